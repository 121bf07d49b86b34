"""A machine without ngspice: executors and ``ckt simulate`` stop at once with what is missing and
how to install it, instead of one failed result per job; ``probe`` reports the same for ``ckt doctor``.

The simulator's location is injected (``CKT_LIBNGSPICE``, ``CKT_NGSPICE``, or the runner's
arguments), pointed at files that do not exist, so this runs on any machine.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ckt.cli import run
from ckt.errors import SimulatorNotFoundError
from ckt.sim import LocalExecutor, SimJob
from ckt.sim.backends import NgspiceRunner, probe
from tests.conftest import requires_ngspice

OP = SimJob("divider\nr1 in out 1k\nr2 out 0 3k\nvin in 0 dc 4\n.op\n.end\n")
FIX = "apt-get install ngspice libngspice0-dev"


def test_missing_library_stops_the_batch(tmp_path: Path) -> None:
    runner = NgspiceRunner(library=str(tmp_path / "no" / "libngspice.so"))
    with LocalExecutor(2, runner=runner) as ex:
        with pytest.raises(SimulatorNotFoundError) as caught:
            ex.map([OP] * 4)
    err = caught.value
    assert err.component == "libngspice" and FIX in err.fix and "CKT_LIBNGSPICE" in err.fix
    assert str(tmp_path / "no" / "libngspice.so") in str(err)


def test_missing_executable_stops_the_batch(tmp_path: Path) -> None:
    runner = NgspiceRunner(executable=str(tmp_path / "bin" / "ngspice"))
    with LocalExecutor(1, runner=runner) as ex:
        with pytest.raises(SimulatorNotFoundError, match="ngspice is not available") as caught:
            ex.map([SimJob(OP.deck, backend="subprocess")] * 3)
    assert FIX in caught.value.fix and "CKT_NGSPICE" in caught.value.fix


def test_executable_that_cannot_start(tmp_path: Path) -> None:
    fake = tmp_path / "ngspice"
    fake.write_text("not a program\n")
    fake.chmod(stat.S_IRUSR)  # not executable
    with LocalExecutor(1, runner=NgspiceRunner(executable=str(fake))) as ex:
        with pytest.raises(SimulatorNotFoundError, match="cannot start"):
            ex.map([SimJob(OP.deck, backend="subprocess")])


def test_environment_variable_points_the_executor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CKT_LIBNGSPICE", str(tmp_path / "libngspice.so"))
    with LocalExecutor(1) as ex, pytest.raises(SimulatorNotFoundError, match="libngspice"):
        ex.map([OP])


def test_ckt_simulate_says_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    deck = tmp_path / "divider.cir"
    deck.write_text(OP.deck)
    plot = tmp_path / "bode.png"
    monkeypatch.setenv("CKT_LIBNGSPICE", str(tmp_path / "libngspice.so"))
    code = run(["simulate", str(deck), "--json", "--plot", str(plot)])
    err = capsys.readouterr()
    assert code == 2
    assert "libngspice is not available" in err.err and FIX in err.err
    assert err.out == "" and not plot.exists()  # nothing misleading written


def test_probe_reports_missing_components(tmp_path: Path) -> None:
    binary, library = probe(executable=str(tmp_path / "ngspice"), library=str(tmp_path / "libngspice.so"))
    assert (binary.name, binary.found) == ("ngspice", False) and FIX in binary.fix
    assert (library.name, library.found) == ("libngspice", False) and FIX in library.fix
    assert str(tmp_path / "libngspice.so") in library.detail


@requires_ngspice
def test_probe_finds_the_installed_ngspice() -> None:
    binary, library = probe()
    assert binary.found and binary.detail.startswith("ngspice ") and binary.fix == ""
    assert library.found and "ngspice" in library.detail
