"""``ckt doctor``: finds what is installed, names the fix for what is not, and fails only on what is needed."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from click.testing import CliRunner

from ckt.cli import main
from ckt.doctor import Check, format_table, healthy, probe_ngspice, run_checks
from tests.conftest import requires_ngspice


def _fake_program(folder: Path, name: str, output: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _no_ngspice_env(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "bin"
    empty.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("CKT_NGSPICE", "NGSPICE_LIBRARY_PATH")}
    env.update(PATH=str(empty), CKT_NGSPICE_LIBRARY=str(tmp_path / "nowhere" / "libngspice.so"),
               CKT_DATA=str(tmp_path / "data"))
    return env


def test_missing_ngspice_is_reported_with_the_fix(tmp_path: Path) -> None:
    binary, library = probe_ngspice(_no_ngspice_env(tmp_path))
    assert not binary.ok and binary.required and "not found" in binary.found
    assert "apt-get install -y ngspice" in binary.fix
    assert not library.ok and library.required and "does not load" in library.found
    assert "CKT_NGSPICE_LIBRARY" in library.fix


def test_cli_exits_non_zero_when_ngspice_is_missing(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["doctor"], env=_no_ngspice_env(tmp_path))
    assert result.exit_code == 1
    row = next(line for line in result.output.splitlines() if line.startswith("ngspice binary"))
    assert "MISSING" in row
    assert "fix: install it" in result.output


def test_json_output_lists_every_row(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["doctor", "--json"], env=_no_ngspice_env(tmp_path))
    rows = json.loads(result.stdout)
    names = [r["name"] for r in rows]
    assert names[:5] == ["ngspice binary", "ngspice shared library", "PySpice", "torch", "ray"]
    assert any(n.startswith("PDK ") for n in names) and names[-1] == "cache folder"
    assert result.exit_code == 1


def test_binary_version_is_read_from_the_program(tmp_path: Path) -> None:
    fake = _fake_program(tmp_path, "ngspice", "** ngspice-41plus : Circuit level simulation program")
    binary, _ = probe_ngspice({"PATH": str(tmp_path), "CKT_NGSPICE_LIBRARY": "/nowhere.so"})
    assert binary.ok and binary.found == f"ngspice 41plus at {fake}"


def test_ckt_ngspice_overrides_path_and_a_silent_program_fails(tmp_path: Path) -> None:
    fake = _fake_program(tmp_path, "not-ngspice", "hello")
    binary, _ = probe_ngspice({"PATH": "", "CKT_NGSPICE": str(fake), "CKT_NGSPICE_LIBRARY": "/nowhere.so"})
    assert not binary.ok and "does not answer --version" in binary.found


def test_unwritable_cache_is_missing(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {**_no_ngspice_env(tmp_path), "CKT_DATA": str(blocker / "ckt")}
    cache = run_checks(env)[-1]
    assert cache.name == "cache folder" and not cache.ok and "CKT_DATA" in cache.fix


def test_cache_is_written_where_ckt_data_points(tmp_path: Path) -> None:
    cache = run_checks({**_no_ngspice_env(tmp_path), "CKT_DATA": str(tmp_path / "d")})[-1]
    assert cache.ok and (tmp_path / "d").is_dir() and list((tmp_path / "d").iterdir()) == []


def test_optional_rows_do_not_make_it_unhealthy() -> None:
    ok = Check("a", True, "1.0")
    assert healthy((ok, Check("ray", False, "not installed", "pip install ray", required=False)))
    assert not healthy((ok, Check("torch", False, "not installed", "pip install torch")))
    table = format_table((ok, Check("ray", False, "not installed", "pip install ray", required=False)))
    assert "optional" in table and "fix: pip install ray" in table


def test_bundled_pdks_are_loadable(tmp_path: Path) -> None:
    from ckt.pdk.registry import list_pdks

    rows = [c for c in run_checks(_no_ngspice_env(tmp_path)) if c.name.startswith("PDK ")]
    assert [r.name for r in rows] == [f"PDK {p.name}" for p in list_pdks()]
    assert all(r.ok for r in rows)


@requires_ngspice
def test_installed_ngspice_is_found_with_its_version() -> None:
    from ckt.sim.ngspice import ngspice_version

    binary, library = probe_ngspice(os.environ)
    assert binary.ok and f"ngspice {ngspice_version()} at" in binary.found
    assert library.ok and library.found.startswith(f"ngspice {ngspice_version()} ")
