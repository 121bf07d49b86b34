"""The deck policy: what a deck may ask ngspice to do, decided before ngspice sees it.

ngspice's control language can run programs (``shell``, back-quoted words, ``set unixcom``), load native
code (``osdi``, ``codemodel``), read further scripts (``source``) and write files anywhere (``wrdata``,
``write``, ``> file``). A deck someone sent you must not hand over the machine, so by default only the
commands an analysis needs are allowed, and file writes must stay inside the run's own directory;
everything else, including any command this module does not know, is refused with the command, file and
line. ``trusted=True`` is the explicit opt-in that skips the refusals.

What is scanned is what ngspice 39 executes (checked against ngspice 39):

* ``.control`` ... ``.endc`` blocks anywhere, in the deck and in every file it includes (ngspice runs
  control blocks of included files and of ``.lib`` sections); ``.control`` is matched as a prefix as
  ngspice does, and a missing ``.endc`` runs to the end of the file;
* ``*#`` lines, which ngspice runs as control commands even outside ``.control``;
* files whose first line is ``*ng_script``, whose every line is a command;
* ``+`` continuation lines, joined with a space across comment lines, as ngspice joins them.

ngspice treats ``;`` as the start of a comment, so a line is never split there; the policy checks the
whole line, which can only refuse more. One entry point, :func:`check_deck`, returns a
:class:`DeckCheck`; :meth:`DeckCheck.raise_if_refused` turns refusals into one ``DeckPolicyError``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from ckt.errors import DeckPolicyError

# Reads an included file: (path as written, file that includes it) -> (name to report, text), or None
# when it cannot be found.
ReadFile = Callable[[str, str], "tuple[str, str] | None"]

# Commands an analysis needs, or that only compute and print. Anything else is refused.
ANALYSES = frozenset({"op", "ac", "dc", "tran", "noise", "pz", "sens", "tf", "disto", "pss", "sp"})
FLOW = frozenset(
    {"if", "else", "end", "while", "repeat", "dowhile", "foreach", "break", "continue", "label", "goto"}
)
COMPUTE = frozenset(
    {
        "run", "resume", "reset", "let", "unlet", "meas", "measure", "print", "echo", "set", "unset",
        "option", "options", "alter", "altermod", "alterparam", "save", "destroy", "setplot", "setscale",
        "settype", "linearize", "fft", "fourier", "spec", "psd", "define", "undefine", "compose",
        "transpose", "cutout", "remcirc", "display", "show", "showmod", "status", "version", "rusage",
        "listing", "asciiplot", "plot", "strcmp", "quit", "exit",
    }
)
# Commands that write the file named by their first argument: allowed inside the run directory only.
WRITERS = frozenset({"write", "wrdata", "wrs2p", "hardcopy"})
ALLOWED = ANALYSES | FLOW | COMPUTE | WRITERS

# Commands refused whatever their arguments, with the reason a user reads.
REFUSED: dict[str, str] = {
    "shell": "runs a program on this machine",
    "source": "reads and runs another script, which is not checked",
    "cd": "changes the directory files are written to",
    "osdi": "loads native code (OSDI device library)",
    "codemodel": "loads native code (XSPICE code model library)",
    "use": "loads code",
    "load": "reads data files from outside the deck",
    "gnuplot": "runs the gnuplot program",
    "aspice": "runs another simulator program",
    "rspice": "runs a simulator on a remote host",
    "edit": "runs an editor program",
    "alias": "renames commands, so the policy could no longer tell what runs",
    "rehash": "rescans the program search path for shell commands",
}

# Simulator variables (``set`` / ``option`` / ``.options``) that name files, directories or programs ngspice
# will use later, or make unknown commands run as shell commands.
FILE_VARIABLES: dict[str, str] = {
    "sourcepath": "changes where ngspice looks for files to read and run",
    "inputdir": "changes the directory included files are read from",
    "unixcom": "makes unknown commands run as shell commands",
    "editor": "names a program ngspice runs",
    "spicepath": "names a simulator program ngspice runs",
    "rprogram": "names a program ngspice runs on a remote host",
    "rhost": "names a remote host ngspice runs a simulator on",
    "hcopydev": "makes hardcopy send its file to a printer program",
}

# Files ngspice would hand to the dynamic loader, or that are native libraries whatever the directive.
NATIVE_SUFFIXES = (".so", ".dll", ".dylib", ".osdi", ".cm")

_TOKEN_RE = re.compile(r'"[^"]*"|\'[^\']*\'|[^\s"\']+')
_REDIRECT_RE = re.compile(r"(>>?|<)&?\s*(\"[^\"]*\"|'[^']*'|[^\s<>]+)")
_NATIVE_RE = re.compile(r"\.(so|dll|dylib|osdi|cm)(\.[0-9][0-9.]*)?$", re.IGNORECASE)
_GLOB_CHARS = frozenset("*?[]{}")
MAX_INCLUDE_DEPTH = 64
"""Includes nested deeper than this are refused rather than followed (no deck needs it; recursion does)."""


@dataclass(frozen=True)
class Refusal:
    """One statement the policy refuses.

    Attributes:
        command: the command or directive, lower case (``shell``, ``wrdata``, ``.include``).
        file: the file holding it.
        line: 1-based physical line where the statement starts.
        reason: why it is refused.
        text: the statement as ngspice would read it (continuations joined).
    """

    command: str
    file: str
    line: int
    reason: str
    text: str


@dataclass(frozen=True)
class DeckCheck:
    """The policy's verdict on a deck and everything it includes.

    Attributes:
        trusted: the caller opted in; ``refusals`` is then always empty.
        files: every file scanned (the deck first), for the record.
        refusals: what would be refused, in file order.
    """

    trusted: bool
    files: tuple[str, ...]
    refusals: tuple[Refusal, ...]

    @property
    def ok(self) -> bool:
        """Whether ngspice may run the deck."""
        return not self.refusals

    def raise_if_refused(self) -> None:
        """Raise one ``DeckPolicyError`` naming the first refusal (all of them attached).

        Raises:
            DeckPolicyError: the deck holds at least one refused statement.
        """
        if self.refusals:
            first = self.refusals[0]
            raise DeckPolicyError(first.command, first.file, first.line, first.reason, self.refusals)


def read_included(path: str, including: str) -> tuple[str, str] | None:
    """Default ``read_file``: the included file from disk, relative to the including file's folder first
    and then to the current directory, with ``~`` expanded (ngspice's own search order, less
    ``sourcepath``, which the policy refuses to change).
    """
    raw = os.path.expanduser(path.strip("\"'"))
    candidates = [Path(raw)] if os.path.isabs(raw) else [Path(including).parent / raw, Path(raw)]
    for candidate in candidates:
        if candidate.is_file():
            try:
                return str(candidate), candidate.read_text(errors="replace")
            except OSError:
                return None
    return None


def check_deck(
    text: str,
    *,
    source: str,
    run_dir: str | os.PathLike[str],
    trusted: bool = False,
    read_file: ReadFile = read_included,
) -> DeckCheck:
    """Decide whether ngspice may run ``text``; the single call point for every backend and executor.

    Args:
        text: the deck exactly as it will be handed to ngspice (first line is the title).
        source: where it came from (a path or a label such as ``<testbench>``), used in messages and as the
            base for relative includes.
        run_dir: the directory ngspice runs in; the only place the deck may write files.
        trusted: the user's explicit opt-in; skips every refusal (nothing is scanned).
        read_file: reads included files, ``(path, including_file) -> (name, text) | None``.

    Returns:
        The verdict; call ``raise_if_refused()`` to fail the evaluation on a refusal.
    """
    if trusted:
        return DeckCheck(trusted=True, files=(source,), refusals=())
    scanner = _Scanner(Path(run_dir), read_file)
    scanner.scan(text, source, is_top=True)
    return DeckCheck(trusted=False, files=tuple(scanner.seen), refusals=tuple(scanner.refusals))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """``(first physical line, text)`` with ``+`` continuations joined by a space; comment lines (``*``
    but not ``*#``) and blank lines dropped, as ngspice drops them before joining.
    """
    out: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or (stripped.startswith("*") and not stripped.startswith("*#")):
            continue
        if stripped.startswith("+") and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + stripped[1:].strip())
        else:
            out.append((number, stripped))
    return out


def _unquote(word: str) -> str:
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'" else word


def path_refusal(path: str, run_dir: Path) -> str | None:
    """Why writing ``path`` could leave ``run_dir`` (``None`` when it stays inside).

    Refused: variable substitution (``$``), ``~``, glob characters (ngspice expands all three), absolute
    and drive paths, ``..`` components, and relative paths a symlink in ``run_dir`` sends elsewhere.
    """
    name = _unquote(path)
    if "$" in name:
        return f"file name {path!r} uses variable substitution, which could point anywhere"
    if "~" in name:
        return f"file name {path!r} uses ~, which points outside the run directory"
    if _GLOB_CHARS & set(name):
        return f"file name {path!r} uses glob characters, which could expand to any path"
    if not name:
        return "empty file name"
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        return f"file name {path!r} is absolute; only files inside the run directory may be written"
    parts = re.split(r"[\\/]+", name)
    if ".." in parts:
        return f"file name {path!r} climbs out of the run directory"
    root = run_dir.resolve()
    target = (root / name).resolve()
    if target != root and root not in target.parents:
        return f"file name {path!r} resolves outside the run directory (symlink)"
    return None


class _Scanner:
    """Walks a deck and its include closure, collecting refusals (state kept to one ``check_deck`` call)."""

    def __init__(self, run_dir: Path, read_file: ReadFile) -> None:
        self.run_dir = run_dir
        self.read_file = read_file
        self.seen: list[str] = []
        self.depth = 0
        self.refusals: list[Refusal] = []

    def refuse(self, command: str, file: str, line: int, reason: str, text: str) -> None:
        self.refusals.append(Refusal(command, file, line, reason, text))

    def scan(self, text: str, file: str, *, is_top: bool) -> None:
        if file in self.seen:
            return  # an include cycle: ngspice fails on it, and the file is already checked
        self.seen.append(file)
        physical = text.splitlines()
        script = bool(physical) and physical[0].strip().lower().startswith("*ng_script")
        lines = _logical_lines(text)
        if is_top and lines and lines[0][0] == 1 and not script:
            lines = lines[1:]  # the title line is not a statement
        in_control = script
        for number, line in lines:
            lower = line.lower()
            if script and lower.startswith("*ng_script"):
                continue
            if lower.startswith("*#"):
                self.command(line[2:].strip(), file, number)
            elif lower.startswith(".control"):
                in_control = True
            elif re.match(r"\.endc(\s|$)", lower):
                in_control = script
            elif in_control:
                self.command(line, file, number)
            else:
                self.directive(line, file, number)

    def directive(self, line: str, file: str, number: int) -> None:
        """A netlist line: includes are checked and followed, options checked, the rest left to ngspice."""
        words = _TOKEN_RE.findall(line)
        head = words[0].lower()
        if head.startswith((".inc", ".lib")) and len(words) >= 2:
            self.include(head, words, line, file, number)
        elif head.startswith(".opt"):
            for word in words[1:]:
                name = word.split("=", 1)[0].strip().lower()
                if name in FILE_VARIABLES:
                    self.refuse(head, file, number, f"option {name}: {FILE_VARIABLES[name]}", line)

    def include(self, head: str, words: list[str], line: str, file: str, number: int) -> None:
        path = _unquote(words[1])
        if _NATIVE_RE.search(path):
            self.refuse(head, file, number, f"{path} is a native library, which ngspice must not load", line)
            return
        found = self.read_file(path, file)
        if found is not None and self.depth >= MAX_INCLUDE_DEPTH:
            self.refuse(head, file, number, f"includes nested deeper than {MAX_INCLUDE_DEPTH} levels", line)
        elif found is not None:
            self.depth += 1
            self.scan(found[1], found[0], is_top=False)
            self.depth -= 1
        elif not (head.startswith(".lib") and len(words) == 2):  # `.lib NAME` alone opens a section
            self.refuse(head, file, number, f"included file {path} cannot be found, so it cannot be checked", line)

    def command(self, line: str, file: str, number: int) -> None:
        """A control-language command: allowed only when known and harmless."""
        if not line:
            return
        if "`" in line:
            self.refuse("`", file, number, "back-quoted words run as shell commands", line)
            return
        words = _TOKEN_RE.findall(line)
        name = re.split(r"[<>]", words[0], maxsplit=1)[0].lower() if words else ""
        if name.startswith("pre_"):
            self.refuse(name, file, number, "pre_ commands run before the circuit is read, outside the policy", line)
            return
        if name in REFUSED:
            self.refuse(name, file, number, REFUSED[name], line)
            return
        if name not in ALLOWED:
            self.refuse(name or line, file, number, "not a command the deck policy knows to be harmless", line)
            return
        if name in ("set", "option", "options"):
            self.variables(name, line, file, number)
        for match in _REDIRECT_RE.finditer(line):
            why = path_refusal(match.group(2), self.run_dir)
            if why:
                self.refuse(f"{name} {match.group(1)}", file, number, why, line)
        if name in WRITERS and len(words) >= 2 and not re.match(r"[<>]", words[1]):
            why = path_refusal(words[1], self.run_dir)
            if why:
                self.refuse(name, file, number, why, line)

    def variables(self, name: str, line: str, file: str, number: int) -> None:
        """``set``/``option`` of a variable that names files or programs is refused."""
        body = re.sub(r"\s*=\s*", "=", line.split(None, 1)[1] if " " in line else "")
        for word in _TOKEN_RE.findall(body):
            variable = word.split("=", 1)[0].strip("()").lower()
            if variable in FILE_VARIABLES:
                self.refuse(name, file, number, f"{variable}: {FILE_VARIABLES[variable]}", line)


def check_file(
    path: str | os.PathLike[str], *, trusted: bool = False, include_path: Sequence[str | Path] = ()
) -> DeckCheck:
    """The policy's verdict on a user's netlist file as written, so a refusal names its own file and line.

    Called at the edge (``ckt simulate``, ``ckt size``) before any deck is built from the file; the
    workers check every prepared deck again. The file will run in a scratch directory of its own, so
    only relative writes that stay below one are allowed. Includes are looked for as the readers look
    for them: next to the including file, then in ``include_path`` and ``CKT_INCLUDE_PATH``.

    Raises:
        CktError: the file cannot be read.
    """
    from ckt.netlist.parse_spice import include_search_path
    from ckt.netlist.source import read_source

    search = include_search_path(include_path)

    def read_file(name: str, including: str) -> tuple[str, str] | None:
        found = read_included(name, including)
        if found is not None or os.path.isabs(name.strip("\"'")):
            return found
        for folder in search:
            found = read_included(str(folder / name.strip("\"'")), including)
            if found is not None:
                return found
        return None

    text = read_source(path).text
    with tempfile.TemporaryDirectory(prefix="ckt-policy-") as run_dir:
        return check_deck(text, source=str(path), run_dir=run_dir, trusted=trusted, read_file=read_file)
