"""RayExecutor on a local one-CPU Ray instance: results, shipped include closures, timeouts; and
``localize``, which lays shipped files out on the actor."""

from __future__ import annotations

from pathlib import Path

import pytest

from ckt.sim import SimJob, simulate
from ckt.sim.decktext import include_closure, localize
from ckt.sim.result import Status
from tests.conftest import requires_ngspice

DIODE_MODEL = ".model dfast d is=1e-14 n=1.05\n"


def _diode_deck(model_path: str) -> str:
    return f"""diode forward drop
.include "{model_path}"
vin in 0 dc 1
r1 in a 1k
d1 a 0 dfast
.dc vin 0 2 0.1
.meas dc vf find v(a) at=1
.end
"""


def test_localize_rewrites_only_include_lines(tmp_path: Path) -> None:
    deck = 'title /models/x.lib\n.include "/models/x.lib"\n.LIB /models/x.lib tt\n* /models/x.lib\n.end\n'
    new, paths = localize(deck, {"/models/x.lib": b"* card\n"}, tmp_path)
    (local,) = paths
    assert Path(local).read_bytes() == b"* card\n" and Path(local).name == "x.lib"
    lines = new.splitlines()
    assert lines[0] == "title /models/x.lib" and lines[3] == "* /models/x.lib"
    assert lines[1] == f'.include "{local}"' and lines[2] == f'.LIB "{local}" tt'


def _nested_library(root: Path) -> Path:
    """A sky130-like library: a top file including, relative to itself, a file that includes
    another by absolute path."""
    (root / "models" / "cells").mkdir(parents=True)
    top = root / "models" / "top.lib"
    cell = root / "models" / "cells" / "diode.spice"
    params = root / "params.spice"
    top.write_text('* library\n.include "cells/diode.spice"\n')
    cell.write_text(f".include '{params}'\n.model dfast d is={{isat}} n=1.05\n")
    params.write_text(".param isat=1e-14\n")
    return top


def test_localize_keeps_nested_includes_working(tmp_path: Path) -> None:
    top = _nested_library(tmp_path / "src")
    closure = include_closure(_diode_deck(str(top)), cwd=str(tmp_path))
    assert [Path(f.path).name for f in closure] == ["top.lib", "diode.spice", "params.spice"]
    files = {f.path: Path(f.path).read_bytes() for f in closure if f.exists}
    deck, paths = localize(_diode_deck(str(top)), files, tmp_path / "actor", cwd=str(tmp_path))
    local_top, local_cell, local_params = map(Path, paths)
    assert deck.splitlines()[1] == f'.include "{local_top}"' and local_top.is_relative_to(tmp_path / "actor")
    assert '.include "cells/diode.spice"' in local_top.read_text()  # relative: the layout is kept
    assert f'"{local_params}"' in local_cell.read_text()  # absolute: rewritten to the copy
    assert (local_top.parent / "cells" / "diode.spice") == local_cell


@pytest.mark.ngspice
@requires_ngspice
def test_localized_deck_runs_without_the_originals(tmp_path: Path) -> None:
    top = _nested_library(tmp_path / "src")
    closure = include_closure(_diode_deck(str(top)))
    files = {f.path: Path(f.path).read_bytes() for f in closure if f.exists}
    deck, _ = localize(_diode_deck(str(top)), files, tmp_path / "actor")
    for f in closure:
        Path(f.path).unlink()
    result = simulate(deck)
    assert result.ok, result.message
    assert 0.5 < result.measurements["vf"] < 0.9


@pytest.fixture(scope="module")
def executor():
    ray = pytest.importorskip("ray")
    from ckt.sim.ray_executor import RayExecutor

    ex = RayExecutor(address=None, num_cpus=1)
    yield ex
    ex.close()
    assert not ray.is_initialized()


@pytest.mark.ray
@pytest.mark.slow  # starting Ray takes from a few seconds to ~40 s on a loaded 2-core machine
@pytest.mark.ngspice
@requires_ngspice
def test_ray_runs_jobs_with_shipped_model_files(executor, tmp_path: Path) -> None:
    model = tmp_path / "diode.lib"
    model.write_text(DIODE_MODEL)
    rc = "rc\nr1 in out 1k\nc1 out 0 1n\nvin in 0 dc 0 ac 1\n.ac dec 50 1 1g\n.meas ac f3db when vdb(out)=-3\n.end\n"
    results = executor.map([SimJob(_diode_deck(str(model)), files=(str(model),)), SimJob(rc, vectors=True)])
    assert results[0].ok, results[0].message
    assert 0.5 < results[0].measurements["vf"] < 0.9
    assert results[1].measurements["f3db"] == pytest.approx(1.5915e5, rel=5e-3)
    assert "v(out)" in results[1].vectors["ac1"]


@pytest.mark.ray
@pytest.mark.slow  # starting Ray takes from a few seconds to ~40 s on a loaded 2-core machine
@pytest.mark.ngspice
@requires_ngspice
def test_ray_timeout_replaces_actor(executor) -> None:
    hang = SimJob("hang\nr1 a 0 1\nv1 a 0 1\n.control\nwhile 1\nend\n.endc\n.end\n", timeout_s=1.0)
    ok = SimJob("op\nr1 a 0 1k\nv1 a 0 1\n.op\n.end\n")
    results = executor.map([hang, ok, ok])
    assert results[0].status == "timeout"
    assert results[1].ok and results[2].ok
    assert executor.map([ok])[0].ok


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.ngspice
@requires_ngspice
def test_ray_ships_files_included_from_inside_model_files(executor, tmp_path: Path) -> None:
    top = _nested_library(tmp_path)
    (result,) = executor.map([SimJob(_diode_deck(str(top)))])
    assert result.ok, result.message
    assert 0.5 < result.measurements["vf"] < 0.9


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.ngspice
@requires_ngspice
def test_ray_actor_applies_the_deck_policy(executor, tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    deck = f"hostile\nr1 1 0 1k\nv1 1 0 1\n.control\nop\nshell touch {target}\n.endc\n.end\n"
    refused, trusted = executor.map([SimJob(deck=deck), SimJob(deck=deck, trusted=True)])
    assert refused.status == Status.ERROR and "deck policy" in refused.message
    assert trusted.ok, trusted.message  # trust is the job's own flag, never the cluster's default
