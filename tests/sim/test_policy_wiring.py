"""The deck policy is enforced where ngspice runs: every backend, the local pool, Ray and the CLI edge."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ckt.sim.backends import NgspiceRunner
from ckt.sim.executor import LocalExecutor
from ckt.sim.result import SimJob, Status

pytestmark = pytest.mark.ngspice


def _hostile(target: Path) -> str:
    return f"""hostile
r1 1 0 1k
v1 1 0 1
.control
op
SHELL touch {target}
.endc
.end
"""


@pytest.mark.parametrize("backend", ["shared", "subprocess"])
def test_runner_refuses_shell_on_every_backend(tmp_path: Path, backend: str) -> None:
    target = tmp_path / "pwned"
    result = NgspiceRunner().run(SimJob(deck=_hostile(target), backend=backend, source="evil.cir"))
    assert result.status == Status.ERROR
    assert "shell" in result.message.lower() and "evil.cir" in result.message
    assert not target.exists()


def test_trusted_job_runs_its_control_commands(tmp_path: Path) -> None:
    target = tmp_path / "made"
    result = NgspiceRunner().run(SimJob(deck=_hostile(target), trusted=True))
    assert result.status == Status.OK, result.message
    assert target.exists()


def test_local_pool_refuses_and_keeps_going(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    good = "ok\nr1 1 0 1k\nv1 1 0 1\n.op\n.end\n"
    with LocalExecutor(workers=1) as executor:
        bad, fine = executor.map([SimJob(deck=_hostile(target)), SimJob(deck=good)])
    assert bad.status == Status.ERROR and "deck policy" in bad.message
    assert fine.status == Status.OK
    assert not target.exists()


def test_cli_refuses_with_file_and_line_and_trust_deck_opts_in(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    deck = tmp_path / "evil.cir"
    deck.write_text(_hostile(target))
    run = [sys.executable, "-m", "ckt", "simulate", str(deck)]
    refused = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert f"{deck}:6:" in refused.stderr and "shell" in refused.stderr.lower()
    assert not target.exists()
    trusted = subprocess.run([*run, "--trust-deck", "--json"], capture_output=True, text=True, timeout=120)
    assert trusted.returncode == 0, trusted.stderr
    assert '"trusted_deck": true' in trusted.stdout
    assert target.exists()



def test_size_refuses_a_hostile_deck_before_simulating(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    deck = tmp_path / "evil.cir"
    deck.write_text(f"""evil
.param r=1k
r1 1 0 {{r}}
v1 1 0 1
.control
op
let i = -v1#branch
print i
shell touch {target}
.endc
.end
""")
    spec = tmp_path / "spec.yaml"
    spec.write_text("variables:\n  r: {min: 100, max: 10k}\ntargets:\n  i: {min: 1e-4}\n")
    run = subprocess.run([sys.executable, "-m", "ckt", "size", str(deck), "--spec", str(spec), "--budget", "4",
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert f"{deck}:9:" in run.stderr and "shell" in run.stderr.lower()
    assert not target.exists()
