"""What ``ckt`` found on this machine: ngspice (binary and shared library), the Python packages it runs
on, the bundled PDKs and a writable cache, each with the fix when it is missing.

A broken install should say so in one table before a sizing run spends its budget on failing
simulations. The checks only look (the cache check writes and removes one probe file); ngspice is probed
in :func:`probe_ngspice` alone, reading the same variables as the simulator (``ckt.sim.backends.locate``).
Locations can be overridden, which is
also how the tests point at a missing simulator: ``CKT_NGSPICE`` (the binary), ``CKT_LIBNGSPICE``
(the shared library; PySpice's own ``NGSPICE_LIBRARY_PATH`` is honoured next), ``CKT_DATA`` (the cache).
"""

from __future__ import annotations

import ctypes.util
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from ckt.sim.backends.locate import LIBNGSPICE_ENV, NGSPICE_ENV

APT_NGSPICE = "sudo apt-get update && sudo apt-get install -y ngspice libngspice0-dev"
_NGSPICE_FIX = f"install it: {APT_NGSPICE} (Debian/Ubuntu), brew install ngspice (macOS)"

# Loads the library in a separate interpreter (libngspice keeps global state and may crash) and prints
# what it says on start-up and to `version`.
_LIBRARY_PROBE = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
out = []
cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p)(
    lambda text, ident, user: out.append(text.decode(errors="replace")) or 0)
lib.ngSpice_Init(cb, None, None, None, None, None, None)
lib.ngSpice_Command(b"version -s")
print("\\n".join(out))
"""
_VERSION_RE = re.compile(r"ngspice-(\S+)")


@dataclass(frozen=True)
class Check:
    """One row of the doctor's table.

    Attributes:
        name: what was looked for (``ngspice binary``, ``PySpice``...).
        ok: whether it was found and works.
        found: version and location when found, else what went wrong.
        fix: the command or step that makes it work ("" when ``ok``).
        required: whether ``ckt``'s main job needs it (Ray does not).
    """

    name: str
    ok: bool
    found: str
    fix: str = ""
    required: bool = True


def _run_text(argv: list[str], timeout_s: float = 20.0) -> str | None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout + proc.stderr


def probe_ngspice(env: Mapping[str, str]) -> tuple[Check, Check]:
    """The ngspice binary and shared library, each with its version (the one place ngspice is probed).

    Args:
        env: environment to read ``CKT_NGSPICE``, ``CKT_LIBNGSPICE``, ``NGSPICE_LIBRARY_PATH`` and
            ``PATH`` from.
    """
    exe = env.get(NGSPICE_ENV) or shutil.which("ngspice", path=env.get("PATH", ""))
    if exe and Path(exe).is_file() and os.access(exe, os.X_OK):
        version = _VERSION_RE.search(_run_text([exe, "--version"]) or "")
        binary = (
            Check("ngspice binary", True, f"ngspice {version.group(1)} at {exe}")
            if version
            else Check("ngspice binary", False, f"{exe} does not answer --version", _NGSPICE_FIX)
        )
    else:
        where = f"CKT_NGSPICE={exe}" if env.get(NGSPICE_ENV) else "ngspice on PATH"
        binary = Check("ngspice binary", False, f"not found ({where})", _NGSPICE_FIX + "; or set CKT_NGSPICE")

    lib = env.get(LIBNGSPICE_ENV) or env.get("NGSPICE_LIBRARY_PATH") or ctypes.util.find_library("ngspice")
    lib_fix = _NGSPICE_FIX + "; or set CKT_LIBNGSPICE to libngspice's path"
    if not lib:
        library = Check("ngspice shared library", False, "libngspice not found", lib_fix)
    else:
        version = _VERSION_RE.search(_run_text([sys.executable, "-c", _LIBRARY_PROBE, lib]) or "")
        library = (
            Check("ngspice shared library", True, f"ngspice {version.group(1)} ({lib})")
            if version
            else Check("ngspice shared library", False, f"{lib} does not load", lib_fix)
        )
    return binary, library


def _package(name: str, module: str, fix: str, *, required: bool = True) -> Check:
    """A Python package: importable, with its installed version (not imported: torch takes seconds)."""
    if importlib.util.find_spec(module) is None:
        return Check(name, False, "not installed", fix, required)
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        version = "version unknown"
    return Check(name, True, version, "", required)


def _pdks() -> list[Check]:
    from ckt.pdk.registry import ENV_VAR, list_pdks, models_root

    rows = []
    for pdk in list_pdks():
        missing = pdk.missing_files()
        rows.append(
            Check(f"PDK {pdk.name}", True, f"{len(pdk.files)} model file(s)")
            if not missing
            else Check(
                f"PDK {pdk.name}",
                False,
                f"missing {', '.join(str(m) for m in missing)}",
                f"reinstall ckt, or set {ENV_VAR} to a folder holding pdk_models/ (now {models_root()})",
            )
        )
    return rows


def cache_dir(env: Mapping[str, str]) -> Path:
    """Where ckt keeps datasets and caches: ``$CKT_DATA``, else ``~/.cache/ckt``."""
    return Path(env["CKT_DATA"]) if env.get("CKT_DATA") else Path.home() / ".cache" / "ckt"


def _cache(env: Mapping[str, str]) -> Check:
    folder = cache_dir(env)
    fix = f"make {folder} writable, or set CKT_DATA to a writable folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("cache folder", False, f"{folder}: {exc.strerror or exc}", fix)
    return Check("cache folder", True, f"{folder} (writable)")


def run_checks(env: Mapping[str, str] | None = None) -> tuple[Check, ...]:
    """Every check, in the table's order.

    Args:
        env: environment to read locations from (default ``os.environ``).
    """
    env = os.environ if env is None else env
    return (
        *probe_ngspice(env),
        _package("PySpice", "PySpice", "pip install PySpice==1.5"),
        _package("torch", "torch", "pip install torch (see https://pytorch.org for the right build)"),
        _package("ray", "ray", "optional, for --executor ray: pip install 'ray[default]'", required=False),
        *_pdks(),
        _cache(env),
    )


def healthy(checks: tuple[Check, ...]) -> bool:
    """Whether everything required was found (optional rows may fail)."""
    return all(c.ok or not c.required for c in checks)


def format_table(checks: tuple[Check, ...]) -> str:
    """The checks as a plain-text table, a ``fix:`` line under each one that failed."""
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        mark = "ok" if c.ok else ("MISSING" if c.required else "optional")
        lines.append(f"{c.name:<{width}}  {mark:<8}  {c.found}")
        if not c.ok:
            lines.append(f"{'':<{width}}  {'':<8}  fix: {c.fix}")
    return "\n".join(lines)


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check ngspice, the Python packages, the bundled PDKs and the cache; exit 1 if something needed is missing."""
    checks = run_checks()
    if as_json:
        click.echo(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        click.echo(format_table(checks))
    if not healthy(checks):
        if not as_json:
            click.echo("\nckt cannot run until the MISSING rows are fixed.", err=True)
        ctx.exit(1)
