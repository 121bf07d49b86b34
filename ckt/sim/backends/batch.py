"""``ngspice -b`` (batch mode), the ``"subprocess"`` backend: for decks the shared library cannot run.

Each job runs one ngspice process in a fresh temporary directory (so the files ngspice writes,
BSIM check logs, ``wrdata`` output, stay out of the caller's way), limited to one OpenMP thread
like the shared backend. Measurements are read from its
output exactly as the shared backend reads them. ngspice refuses ``.meas`` when a raw file is
requested in batch mode, so a job that wants both vectors and measurements costs two runs: one
for the measurements and status, one writing the binary raw file the vectors come from.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from ckt.errors import SimulatorNotFoundError
from ckt.sim.backends.locate import NGSPICE_ENV, fix_for, ngspice_binary
from ckt.sim.backends.shared import NUM_THREADS
from ckt.sim.backends.vectors import scale_to_real
from ckt.sim.deckpolicy import ANALYSES
from ckt.sim.decktext import has_control_block, meas_names, without_control
from ckt.sim.lifeline import die_with_parent
from ckt.sim.log import read_log
from ckt.sim.result import SimJob, SimResult, Status

# What batch mode prints about its own mechanics, never about the deck.
_BATCH_NOISE_RE = re.compile(r"^No \.measure possible|^Remove rawfile|^select interactive")

# Raw-file plot titles -> the short names ngspice gives the same plots in interactive mode.
_PLOT_KINDS = {
    "ac analysis": "ac",
    "operating point": "op",
    "transient analysis": "tran",
    "dc transfer characteristic": "dc",
    "noise spectral density curves": "noise",
    "integrated noise": "noise",
    "transfer function": "tf",
    "pole-zero analysis": "pz",
    "sensitivity analysis": "sens",
    "distortion analysis": "disto",
}


def _run(exe: str, deck_path: Path, extra: list[str], timeout_s: float) -> tuple[int | None, str]:
    """Run ngspice once; ``None`` as return code means it was killed at the timeout."""
    try:
        proc = subprocess.run(
            [exe, "-b", *extra, str(deck_path)],
            cwd=deck_path.parent,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            check=False,
            preexec_fn=die_with_parent,  # an ngspice -b never outlives the worker that waits on it
        )
    except OSError as exc:
        detail = f"cannot start {exe}: {exc.strerror or exc}"
        raise SimulatorNotFoundError("ngspice", detail, fix_for(NGSPICE_ENV)) from None
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        return None, out.decode("utf-8", "replace") if isinstance(out, bytes) else out
    return proc.returncode, proc.stdout + proc.stderr


def read_raw(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Read a binary ngspice raw file: plot name (``ac1``...) -> vector name -> array."""
    data = path.read_bytes()
    plots: dict[str, dict[str, np.ndarray]] = {}
    counts: dict[str, int] = {}
    pos = 0
    while pos < len(data):
        end = data.find(b"Binary:\n", pos)
        if end < 0:
            break
        header = data[pos:end].decode("utf-8", "replace").splitlines()
        fields: dict[str, str] = {}
        names: list[str] = []
        in_vars = False
        for line in header:
            if in_vars and line.startswith(("\t", " ")):
                parts = line.split()
                names.append(parts[1].lower())
                continue
            key, _, value = line.partition(":")
            in_vars = key.strip().lower() == "variables"
            fields[key.strip().lower()] = value.strip()
        n_vars, n_points = int(fields["no. variables"]), int(fields["no. points"])
        complex_ = "complex" in fields.get("flags", "").lower()
        width = 2 if complex_ else 1
        count = n_vars * n_points * width
        start = end + len(b"Binary:\n")
        block = np.frombuffer(data, dtype="<f8", count=count, offset=start).reshape(n_points, n_vars * width)
        pos = start + count * 8
        kind = _PLOT_KINDS.get(fields.get("plotname", "").lower(), "unknown")
        counts[kind] = counts.get(kind, 0) + 1
        vectors: dict[str, np.ndarray] = {}
        for i, name in enumerate(names):
            if complex_:
                vectors[name] = scale_to_real(name, block[:, 2 * i] + 1j * block[:, 2 * i + 1])
            else:
                vectors[name] = block[:, i].copy()
        plots[f"{kind}{counts[kind]}"] = vectors
    return plots


def _with_run_control(deck: str) -> str:
    """The deck with a ``.control`` block that just runs it, unless it has its own.

    Plain ``ngspice -b`` skips any analysis nothing ``.print``s ("no data saved ... analysis not
    run"), whereas the shared backend runs every analysis; an explicit ``run`` makes the two
    backends do the same work, and ``quit`` stops batch mode from then running the deck a second
    time on its own terms.
    """
    if has_control_block(deck):
        return deck
    lines = deck.rstrip("\n").splitlines()
    end = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip().lower() == ".end"), len(lines))
    return "\n".join([*lines[:end], ".control", "run", "quit", ".endc", *lines[end:]]) + "\n"


def _script_ended(deck: str, raw: str | None) -> str:
    """A deck whose analyses all run in its own ``.control`` script (the op-amp testbench's scaled
    follower), ended as the shared backend ends it: the plot the script leaves current written to
    the file ``raw`` in ngspice's working directory (when vectors are wanted) and ``quit``, since
    batch mode would otherwise go on to run a deck with no analysis of its own and exit 1 ("no
    simulations run"), and writes no raw file for a script's analyses. Any other deck is returned
    as it is."""
    dot_commands = {line.split()[0][1:].lower() for line in without_control(deck).splitlines()
                    if line.strip().startswith(".")}
    if not has_control_block(deck) or dot_commands & ANALYSES:
        return deck
    lines = deck.rstrip("\n").splitlines()
    ends = [i for i, line in enumerate(lines) if re.match(r"\.endc(\s|$)", line.strip().lower())]
    if not ends:
        return deck
    return "\n".join([*lines[:ends[-1]], *([f"write {raw}"] if raw else []), "quit", *lines[ends[-1]:]]) + "\n"


def _write_spiceinit(folder: Path) -> None:
    """A ``.spiceinit`` in ngspice's working directory: the user's own, plus one thread.

    ngspice reads ``./.spiceinit`` instead of ``~/.spiceinit`` when both exist, so the user's
    settings (``ngbehavior``...) are carried over.
    """
    home = Path.home() / ".spiceinit"
    user = home.read_text(errors="replace") if home.is_file() else "* ckt\n"
    (folder / ".spiceinit").write_text(f"{user.rstrip()}\nset num_threads={NUM_THREADS}\n")


def run_subprocess(job: SimJob, *, scratch: str | None = None, executable: str | None = None) -> SimResult:
    """Run ``job`` with ``ngspice -b`` under its timeout; never raises for a failed simulation.

    Args:
        scratch: folder for the temporary run folder; workers pass their own scratch directory,
            which their parent removes even when it kills the worker mid-run.
        executable: the ngspice to run (default: ``$CKT_NGSPICE``, else ``ngspice`` on ``PATH``).

    Raises:
        SimulatorNotFoundError: there is no ngspice executable, or it cannot be started.
    """
    start = time.perf_counter()
    exe = ngspice_binary(executable)
    if exe is None:
        raise SimulatorNotFoundError("ngspice", "no ngspice executable on PATH", fix_for(NGSPICE_ENV))
    with tempfile.TemporaryDirectory(prefix="ckt-ngspice-", dir=scratch) as tmp:
        deck_path = Path(tmp) / "deck.cir"
        _write_spiceinit(Path(tmp))
        logs: list[str] = []
        rc: int | None = 0
        if not job.vectors or meas_names(job.deck):
            deck_path.write_text(_with_run_control(_script_ended(job.deck, None)))
            rc, out = _run(exe, deck_path, [], job.timeout_s)
            logs.append(out)
        vectors: dict[str, dict[str, np.ndarray]] = {}
        if job.vectors and rc == 0:
            remaining = job.timeout_s - (time.perf_counter() - start)
            raw = Path(tmp) / "out.raw"
            deck_path.write_text(_script_ended(job.deck if job.deck.endswith("\n") else job.deck + "\n", raw.name))
            rc, out = _run(exe, deck_path, ["-r", str(raw)], max(remaining, 0.001))
            logs.append(out)
            if rc == 0 and raw.exists():
                vectors = read_raw(raw)
    log = "\n".join(logs)
    elapsed = time.perf_counter() - start
    if rc is None:
        return SimResult(status=Status.TIMEOUT, log=log, elapsed_s=elapsed,
                         message=f"ngspice -b exceeded its {job.timeout_s:g} s limit and was killed")
    lines = [line for line in log.splitlines() if not _BATCH_NOISE_RE.match(line)]
    reading = read_log(lines, job.deck, failed="" if rc == 0 else f"ngspice -b exited with status {rc}")
    return SimResult(
        status=reading.status,
        measurements=reading.measurements,
        vectors=vectors if reading.status is Status.OK else {},
        log=log,
        elapsed_s=elapsed,
        message=reading.message,
    )


class SubprocessBackend:
    """The ``"subprocess"`` backend: one ``ngspice -b`` process per job.

    Args:
        scratch: where run folders go (default: the system's temporary folder).
        executable: the ngspice to run (default: ``$CKT_NGSPICE``, else ``ngspice`` on ``PATH``).
    """

    name = "subprocess"

    def __init__(self, scratch: str | None = None, executable: str | None = None) -> None:
        self.scratch = scratch
        self.executable = executable

    def run(self, job: SimJob) -> SimResult:
        """Run ``job`` with ``ngspice -b``; raises ``SimulatorNotFoundError`` without one."""
        return run_subprocess(job, scratch=self.scratch, executable=self.executable)

    @property
    def alive(self) -> bool:
        """Always true: each job gets a fresh ngspice process."""
        return True
