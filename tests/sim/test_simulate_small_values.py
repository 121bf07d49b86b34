"""``ckt simulate`` rebuilds decks through the SPICE writer: an inline model with a value below 1e-15
must reach ngspice unchanged (the writer once wrote ``is=591.1a``, which ngspice reads as 591.1, and
reported a 3e14 A collector current with status "ok")."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from ckt.cli import run
from tests.conftest import requires_ngspice

pytestmark = [pytest.mark.ngspice, requires_ngspice]


BJT = """inline bjt
.model qn npn is=5.911e-16 bf=100
vcc c 0 5
vb b 0 0
q1 c b 0 qn
.dc vb 0.6 0.8 0.01
.meas dc ic find i(vcc) at=0.7
.end
"""


def test_simulate_gives_plain_ngspice_collector_current(tmp_path: Path, capsys):
    deck = tmp_path / "bjt.cir"
    deck.write_text(BJT)
    done = subprocess.run(["ngspice", "-b", str(deck)], capture_output=True, text=True, timeout=120, check=False)
    plain = re.search(r"^ic\s*=\s*(\S+)", done.stdout + done.stderr, re.MULTILINE | re.IGNORECASE)
    assert plain is not None
    expected = float(plain[1])
    assert -5e-4 < expected < -2e-4  # 0.34 mA into the collector, which ngspice reports as negative
    assert run(["simulate", str(deck), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ok"
    assert out["measurements"]["ic"] == pytest.approx(expected, rel=1e-6)
