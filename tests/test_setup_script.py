"""``scripts/ensure-ngspice.sh``, which ``make setup`` runs first: it leaves an installed ngspice alone,
installs a missing one with apt-get as root or through password-less sudo, and otherwise stops with the
one command to run. Run against a fake PATH of stub programs, so nothing is installed for real."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "ensure-ngspice.sh"
APT_LINE = "sudo apt-get update && sudo apt-get install -y ngspice libngspice0-dev"


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _machine(tmp_path: Path, *, uid: int, apt: bool, sudo: str | None, ngspice: bool, library: bool) -> dict:
    """A fake machine: stub ``id``/``apt-get``/``sudo``/``ngspice`` in a bin folder; apt-get logs its
    arguments and, on ``install``, puts ngspice and its library in place."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    lib = tmp_path / "lib" / "libngspice.so.0"
    lib.parent.mkdir()
    if library:
        lib.write_text("")
    ngspice_body = "echo '** ngspice-39 : fake'"
    _stub(bin_dir, "id", f'[ "$1" = "-u" ] && echo {uid}')
    if ngspice:
        _stub(bin_dir, "ngspice", ngspice_body)
    if apt:
        _stub(
            bin_dir,
            "apt-get",
            f'echo "apt-get $* (uid via ${{SUDO_USED:-none}}, frontend=$DEBIAN_FRONTEND)" >> {log}\n'
            f'if [ "$1" = "install" ]; then\n'
            f'  printf "#!/bin/sh\\n{ngspice_body}\\n" > {bin_dir}/ngspice; /bin/chmod +x {bin_dir}/ngspice\n'
            f"  : > {lib}\nfi",
        )
    if sudo is not None:
        # "ok": password-less sudo runs `VAR=value ... command args`; "password": sudo -n refuses.
        runs = (
            'shift; while [ $# -gt 0 ]; do case "$1" in *=*) export "$1"; shift;; *) break;; esac; done\n'
            '[ "$1" = true ] && exit 0; export SUDO_USED=sudo; exec "$@"'
        )
        _stub(bin_dir, "sudo", runs if sudo == "ok" else f'echo "sudo $*" >> {log}; exit 1')
    return {"PATH": str(bin_dir), "CKT_NGSPICE_LIBRARY": str(lib), "log": log}


def _run(machine: dict) -> tuple[int, str, str]:
    env = {"PATH": machine["PATH"], "CKT_NGSPICE_LIBRARY": machine["CKT_NGSPICE_LIBRARY"]}
    proc = subprocess.run(["/bin/sh", str(SCRIPT)], check=False, env=env, capture_output=True, text=True, timeout=60)
    log = machine["log"].read_text() if machine["log"].exists() else ""
    return proc.returncode, proc.stdout + proc.stderr, log


def test_installed_ngspice_is_left_alone(tmp_path: Path) -> None:
    machine = _machine(tmp_path, uid=0, apt=True, sudo=None, ngspice=True, library=True)
    code, out, log = _run(machine)
    assert code == 0 and "ngspice found" in out and log == ""


def test_root_installs_with_apt(tmp_path: Path) -> None:
    machine = _machine(tmp_path, uid=0, apt=True, sudo=None, ngspice=False, library=False)
    code, out, log = _run(machine)
    assert code == 0, out
    assert log.splitlines() == [
        "apt-get update (uid via none, frontend=noninteractive)",
        "apt-get install -y ngspice libngspice0-dev (uid via none, frontend=noninteractive)",
    ]
    assert "ngspice installed" in out


def test_missing_library_alone_also_installs(tmp_path: Path) -> None:
    machine = _machine(tmp_path, uid=0, apt=True, sudo=None, ngspice=True, library=False)
    code, _, log = _run(machine)
    assert code == 0 and "apt-get install -y ngspice libngspice0-dev" in log


def test_passwordless_sudo_installs(tmp_path: Path) -> None:
    machine = _machine(tmp_path, uid=1000, apt=True, sudo="ok", ngspice=False, library=False)
    code, out, log = _run(machine)
    assert code == 0, out
    assert log.splitlines()[-1] == "apt-get install -y ngspice libngspice0-dev (uid via sudo, frontend=noninteractive)"


@pytest.mark.parametrize("sudo", ["password", None])
def test_without_rights_it_stops_with_the_command(tmp_path: Path, sudo: str | None) -> None:
    machine = _machine(tmp_path, uid=1000, apt=True, sudo=sudo, ngspice=False, library=False)
    code, out, log = _run(machine)
    assert code == 1
    assert APT_LINE in out
    assert "apt-get" not in log.replace("sudo -n true", "")  # nothing was installed


def test_without_apt_it_stops_without_an_apt_command(tmp_path: Path) -> None:
    machine = _machine(tmp_path, uid=0, apt=False, sudo=None, ngspice=False, library=False)
    code, out, _ = _run(machine)
    assert code == 1 and "apt-get" not in out and "package manager" in out


def test_failed_install_stops(tmp_path: Path) -> None:
    machine = _machine(tmp_path, uid=0, apt=True, sudo=None, ngspice=False, library=False)
    (Path(machine["PATH"]) / "apt-get").write_text(f'#!/bin/sh\necho "apt-get $*" >> {machine["log"]}\nexit 100\n')
    code, out, log = _run(machine)
    assert code == 1 and APT_LINE in out and log.splitlines() == ["apt-get update"]


def test_makefile_setup_runs_the_script_first() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP): pyproject.toml", 1)[1].split("\n\n", 1)[0]
    assert recipe.strip().splitlines()[0].strip() == "sh scripts/ensure-ngspice.sh"
