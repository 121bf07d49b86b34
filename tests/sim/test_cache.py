"""ResultCache: keys, persistence, invalidation by model-file contents, and use from an executor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ckt.sim import LocalExecutor, ResultCache, SimJob, SimResult
from tests.conftest import requires_ngspice


def _deck(model: Path) -> str:
    return f"""diode drop
.include "{model}"
vin in 0 dc 1
r1 in a 1k
d1 a 0 dcache
.dc vin 0 2 0.1
.meas dc vf find v(a) at=1
.end
"""


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "diode.lib"
    path.write_text(".model dcache d is=1e-14 n=1.0\n")
    return path


def test_roundtrip_persists_across_instances(tmp_path: Path, model: Path) -> None:
    job = SimJob(_deck(model), vectors=True)
    result = SimResult(
        status="ok",
        measurements={"vf": 0.61, "never": None},
        vectors={"ac1": {"frequency": np.array([1.0, 10.0]), "v(out)": np.array([1 + 2j, 3 - 1j])}, "op1": {"v(a)": np.array([0.6])}},
        log="Checking parameters for BSIM 4.5",
        elapsed_s=0.002,
    )
    cache = ResultCache(tmp_path / "c" / "sim.sqlite")
    assert cache.get(job) is None
    cache.put(job, result)
    cache.close()
    again = ResultCache(tmp_path / "c" / "sim.sqlite")
    hit = again.get(job)
    assert hit is not None and len(again) == 1
    assert hit.status == "ok" and hit.measurements == result.measurements and hit.log == result.log
    assert hit.vectors.keys() == result.vectors.keys()
    np.testing.assert_array_equal(hit.vectors["ac1"]["v(out)"], result.vectors["ac1"]["v(out)"])
    assert hit.vectors["ac1"]["v(out)"].dtype == np.complex128


def test_key_covers_everything_that_changes_the_result(tmp_path: Path, model: Path) -> None:
    cache = ResultCache(tmp_path / "sim.sqlite")
    job = SimJob(_deck(model))
    key = cache.key(job)
    assert cache.key(SimJob(_deck(model))) == key
    assert cache.key(SimJob(_deck(model), vectors=True)) != key
    assert cache.key(SimJob(_deck(model), backend="subprocess")) != key
    assert cache.key(SimJob(_deck(model) + "* changed\n")) != key
    assert cache.key(SimJob(_deck(model), timeout_s=5)) == key  # the limit does not change the answer
    model.write_text(".model dcache d is=1e-14 n=1.2\n")
    assert cache.key(job) != key  # the included file is hashed though job.files is empty
    other = tmp_path / "extra.lib"
    other.write_text("* a\n")
    with_file = SimJob(_deck(model), files=(str(other),))
    first = cache.key(with_file)
    other.write_text("* b\n")
    assert cache.key(with_file) != first


def test_timeouts_are_not_stored(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "sim.sqlite")
    job = SimJob("t\n.end\n")
    cache.put(job, SimResult(status="timeout", message="slow"))
    assert cache.get(job) is None and len(cache) == 0


@pytest.mark.ngspice
@requires_ngspice
def test_executor_uses_and_fills_the_cache(tmp_path: Path, model: Path) -> None:
    path = tmp_path / "sim.sqlite"
    job = SimJob(_deck(model))
    with LocalExecutor(1, cache=ResultCache(path)) as ex:
        (first,) = ex.map([job])
    assert first.ok and 0.5 < first.measurements["vf"] < 0.8
    with LocalExecutor(1, cache=ResultCache(path)) as ex:
        (hit,) = ex.map([job])
        assert ex.pids == []  # answered without starting a worker
    assert hit.measurements == first.measurements
    model.write_text(".model dcache d is=1e-12 n=1.0\n")  # a changed model card misses
    with LocalExecutor(1, cache=ResultCache(path)) as ex:
        (changed,) = ex.map([job])
        assert ex.pids != []
    assert changed.ok and changed.measurements["vf"] < first.measurements["vf"]


def test_key_follows_includes_inside_model_files(tmp_path: Path) -> None:
    """Editing a file included from inside a model library (sky130's nesting) misses the cache."""
    (tmp_path / "lib" / "cells").mkdir(parents=True)
    top = tmp_path / "lib" / "top.lib"
    nested = tmp_path / "lib" / "cells" / "diode.spice"
    deeper = tmp_path / "lib" / "cells" / "params.spice"
    top.write_text('* library\n.include "cells/diode.spice"\n')
    nested.write_text(f".include {deeper}\n.model dcache d is=1e-14 n=1.0\n")
    deeper.write_text(".param nd=1.0\n")
    cache = ResultCache(tmp_path / "sim.sqlite")
    job = SimJob(_deck(top))
    key = cache.key(job)
    nested.write_text(f".include {deeper}\n.model dcache d is=1e-14 n=1.2\n")
    assert cache.key(job) != key
    key = cache.key(job)
    deeper.write_text(".param nd=2.0\n")  # two levels down, absolute path
    assert cache.key(job) != key
