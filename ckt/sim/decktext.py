"""Reading and rewriting deck text the way ngspice reads it: ``.meas`` names, include lines,
``.control`` blocks, and the closure of files a deck reads through nested includes.

These work on the text a backend is given (no netlist IR), so every backend, the result cache and
the Ray executor agree on what a deck measures and which files it depends on.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

_MEAS_RE = re.compile(r"^\s*\.?meas(?:ure)?\s+\S+\s+([^\s=]+)", re.IGNORECASE)
_INCLUDE_RE = re.compile(r"""^(\s*\.(?:include|inc|lib)\s+)(?:"([^"]+)"|'([^']+)'|(\S+))(.*)$""", re.IGNORECASE)
_CONTROL_RE = re.compile(r"^\s*\.control\b", re.IGNORECASE)


def logical_lines(deck: str, *, title: bool = True) -> list[str]:
    """Deck lines with ``+`` continuations joined and comment lines dropped.

    Args:
        title: the text starts with a title line (a deck), kept whatever it reads: a ``* title``
            is still the title, and the next line is the first statement. Model files have none.
    """
    physical = deck.splitlines()
    lines: list[str] = physical[:1] if title else []
    first = len(lines)
    for raw in physical[first:]:
        stripped = raw.strip()
        if stripped.startswith("+") and len(lines) > first:
            lines[-1] += " " + stripped[1:]
        elif stripped.startswith("*"):
            continue
        else:
            lines.append(raw)
    return lines


def meas_names(deck: str) -> list[str]:
    """Lower-case names of every ``.meas`` statement (and ``meas`` command in ``.control``)."""
    names: list[str] = []
    for line in logical_lines(deck)[1:]:
        match = _MEAS_RE.match(line)
        if match and match.group(1).lower() not in names:
            names.append(match.group(1).lower())
    return names


def _include_target(line: str) -> str | None:
    match = _INCLUDE_RE.match(line)
    if match is None:
        return None
    return next(g for g in match.groups()[1:4] if g)


def include_paths(deck: str, *, title: bool = True) -> list[str]:
    """Files named by ``.include``/``.inc``/``.lib`` lines, in order, as written.

    Args:
        title: the text starts with a title line (a deck), which is never an include; model files
            have none.
    """
    paths: list[str] = []
    for line in logical_lines(deck, title=title)[1 if title else 0 :]:
        path = _include_target(line)
        if path is not None and path not in paths:
            paths.append(path)
    return paths


def has_control_block(deck: str) -> bool:
    """Whether the deck runs its own ``.control`` script (so no implicit ``run`` is wanted)."""
    return any(_CONTROL_RE.match(line) for line in deck.splitlines())


def in_script(lines: Iterable[str]) -> list[bool]:
    """For each physical line, whether it belongs to a ``.control`` ... ``.endc`` block (the two
    marker lines included), matched as ngspice reads them: ``.control`` as a prefix, and a block with
    no ``.endc`` runs to the end."""
    marks, script = [], False
    for line in lines:
        head = line.strip().lower()
        if head.startswith(".control"):
            script = True
            marks.append(True)
        elif script and re.match(r"\.endc(\s|$)", head):
            script = False
            marks.append(True)
        else:
            marks.append(script)
    return marks


def without_control(deck: str) -> str:
    """``deck`` without its ``.control`` ... ``.endc`` blocks (``in_script``)."""
    lines = deck.splitlines()
    return "\n".join(line for line, script in zip(lines, in_script(lines)) if not script) + "\n"


def rewrite_includes(text: str, target: Callable[[str], str | None]) -> str:
    """``text`` with each include line's path replaced by ``target(path)`` (kept when ``None``).

    Only ``.include``/``.inc``/``.lib`` lines change; a ``.lib`` section name after the path stays.
    """
    lines = []
    for line in text.splitlines():
        match = _INCLUDE_RE.match(line)
        if match:
            path = next(g for g in match.groups()[1:4] if g)
            new = target(path)
            if new is not None:
                line = f'{match.group(1)}"{new}"{match.group(5)}'
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ModelFile:
    """One file of an include closure: where it is, a digest of its bytes, and whether it exists."""

    path: str
    digest: str
    exists: bool


def _read_scan(path: str) -> tuple[str, tuple[str, ...]]:
    data = Path(path).read_bytes()
    text = data.decode("utf-8", "replace")
    return hashlib.sha256(data).hexdigest(), tuple(include_paths(text, title=False))


@functools.lru_cache(maxsize=512)
def _cached_scan(path: str, mtime_ns: int, size: int, inode: int) -> tuple[str, tuple[str, ...]]:
    return _read_scan(path)


# A file modified this recently may change again within the clock's granularity without its
# mtime moving, so it is read afresh instead of trusted to the cache (git's "racy" rule).
_RACY_NS = 2_000_000_000


def _scan(path: str, stat: os.stat_result) -> tuple[str, tuple[str, ...]]:
    """Digest and include targets of one file, cached by mtime, size and inode."""
    if time.time_ns() - stat.st_mtime_ns < _RACY_NS:
        return _read_scan(path)
    return _cached_scan(path, stat.st_mtime_ns, stat.st_size, stat.st_ino)


def _resolve(written: str, base: str) -> str:
    """An include path as ngspice finds it: absolute as is, else relative to the including file."""
    expanded = os.path.expanduser(written)
    return os.path.normpath(expanded if os.path.isabs(expanded) else os.path.join(base, expanded))


def include_closure(deck: str, files: Iterable[str] = (), *, cwd: str | None = None) -> tuple[ModelFile, ...]:
    """Every file ``deck`` reads: ``files``, its include lines, and theirs, recursively.

    Paths in the deck resolve against ``cwd`` (default: the current directory); paths inside a
    model file resolve against that file's folder, as ngspice resolves them. Files that do not
    exist are listed (``exists=False``, so creating one later changes a cache key) but not
    followed; a ``.lib SECTION`` header inside a library therefore costs one missing entry.

    Returns:
        Absolute, normalised paths in discovery order, each once.
    """
    base = cwd if cwd is not None else os.getcwd()
    todo = [_resolve(f, base) for f in files] + [_resolve(p, base) for p in include_paths(deck)]
    seen: dict[str, ModelFile] = {}
    while todo:
        path = todo.pop(0)
        if path in seen:
            continue
        try:
            stat = os.stat(path)
            if not os.path.isfile(path):
                raise IsADirectoryError(path)
            digest, nested = _scan(path, stat)
        except OSError:
            seen[path] = ModelFile(path, "", False)
            continue
        seen[path] = ModelFile(path, digest, True)
        folder = os.path.dirname(path)
        todo.extend(_resolve(p, folder) for p in nested)
    return tuple(seen.values())


def localize(deck: str, files: Mapping[str, bytes], root: Path, *, cwd: str = "/") -> tuple[str, tuple[str, ...]]:
    """Write shipped model files under ``root`` and point the deck at those copies.

    Each file is written at its absolute path mirrored under one folder named by the digest of the
    whole set, so relative includes between model files keep working; absolute include lines, in
    the deck and in the shipped files, are rewritten to the copies.

    Args:
        deck: the deck text.
        files: absolute original path -> content (``include_closure``'s existing files).
        root: where copies go.
        cwd: the folder the deck's relative include paths were resolved against.

    Returns:
        The rewritten deck and the local paths, in ``files`` order.
    """
    digest = hashlib.sha256()
    for original, content in sorted(files.items()):
        digest.update(original.encode() + b"\0" + hashlib.sha256(content).digest())
    folder = root / digest.hexdigest()[:20]
    local = {original: str(folder / original.lstrip("/\\")) for original in files}

    def rebase(base: str) -> Callable[[str], str | None]:
        def target(written: str) -> str | None:
            expanded = os.path.expanduser(written)
            if not os.path.isabs(expanded) and base != cwd:
                return None  # relative to its own file: the mirrored layout keeps it valid
            return local.get(_resolve(written, base))

        return target

    for original, content in files.items():
        path = Path(local[original])
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content.decode("utf-8", "replace")
        if include_paths(text, title=False):
            rewritten = rewrite_includes(text, rebase(os.path.dirname(original)))
            if rewritten.rstrip("\n") != text.rstrip("\n"):
                content = rewritten.encode("utf-8")
        partial = path.with_name(path.name + f".{os.getpid()}.part")
        partial.write_bytes(content)
        partial.replace(path)
    return rewrite_includes(deck, rebase(cwd)), tuple(local[o] for o in files)
