"""When a loaded circuit can run a new deck: the deck's shape, and the commands that turn one into the other.

A sizing loop sends decks that differ only in global ``.param`` values. Loading each from text
costs the file reads, the preprocessing and the parse of every model card; ngspice can instead
change the stored deck's parameters (``alterparam``) and rebuild the circuit from it (``reset``).
Measured on ngspice 39 (AutoCkt deck, PTM 45 nm): load + run 4.6 ms, ``alterparam`` + ``reset`` +
run 3.3 ms, run of the loaded circuit 2.0 ms. ``reset`` re-parses the stored deck (model cards
included) but reads no file, and its results are bit-identical to a fresh load; ``alter`` of
device instances skips the parse but is not (AC vectors move by ~1e-9 relative even for a
voltage source's DC value) and cannot follow parameters into subcircuits, expressions or binned
models, so ckt does not use it. ngspice 39 keeps the deck ``reset`` rebuilds from in one global,
that of the last circuit loaded (after another load and its ``remcirc``, ``reset`` on the first
circuit rebuilds the second), so a process keeps one circuit loaded, never several.

A loaded deck (``LoadedDeck``) remembers its lines, which of them are top-level ``.param`` lines of
literal values, and the stat of each file it includes; a next deck runs on its circuit only when it
differs in nothing but the values on those lines (a line-by-line comparison, cheap next to a
simulation). Anything unusual (a ``.control`` block, a parameter defined twice, a ``.param`` line
ckt cannot read, an expression value, an edited model file) means a fresh load.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ckt.sim.decktext import has_control_block, in_script, include_closure

_PARAM_LINE_RE = re.compile(r"^\s*\.param\s+(.*)$", re.IGNORECASE)
_ASSIGN_RE = re.compile(r"\s*([A-Za-z_][\w]*)\s*=\s*([^\s=]+)\s*")
# A value alterparam can take as it is: a number with optional SPICE suffix, nothing to evaluate.
_LITERAL_RE = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[a-zA-Z]*$")
_SUBCKT_RE = re.compile(r"^\s*\.subckt\b", re.IGNORECASE)
_ENDS_RE = re.compile(r"^\s*\.ends\b", re.IGNORECASE)


@dataclass(frozen=True)
class LoadedDeck:
    """A deck as the circuit ngspice holds was built from, and what a next deck may change in it.

    Attributes:
        lines: the deck's physical lines.
        params: line index -> the names (lower-case) a top-level one-line ``.param`` statement of
            literal values assigns; only these lines may differ in a deck run on the circuit.
        stamps: every file the deck reads (its include closure) -> its stat signature when loaded
            (``None``: missing), so an edited model file means a fresh load.
        pruned: the circuit was loaded from a copy of those files without the binned cards its
            devices do not use (``ckt.sim.backends.bins``).
    """

    lines: tuple[str, ...]
    params: Mapping[int, tuple[str, ...]]
    stamps: tuple[tuple[str, tuple[int, int, int] | None], ...]
    pruned: bool = False


def _assignments(body: str) -> list[tuple[str, str]] | None:
    """``name=value`` pairs of a ``.param`` line's body, or ``None`` when it is not only those."""
    pairs: list[tuple[str, str]] = []
    pos = 0
    while pos < len(body):
        match = _ASSIGN_RE.match(body, pos)
        if match is None or match.end() == pos:
            return None
        pairs.append((match.group(1).lower(), match.group(2)))
        pos = match.end()
    return pairs or None


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _literal_params(lines: tuple[str, ...]) -> dict[int, tuple[str, ...]] | None:
    """Line index -> names of each top-level one-line ``.param`` of literal values; ``None`` when a
    top-level parameter is defined twice (which definition wins is ngspice's business: never guess).
    Any ``.param`` line ckt cannot read leaves no line changeable."""
    params: dict[int, tuple[str, ...]] = {}
    names: list[str] = []
    opaque = False
    depth = 0
    for i, (line, script) in enumerate(zip(lines, in_script(lines))):
        if script:
            continue
        if _SUBCKT_RE.match(line):
            depth += 1
        elif _ENDS_RE.match(line):
            depth = max(depth - 1, 0)
        match = _PARAM_LINE_RE.match(line) if depth == 0 else None
        if match is None:
            continue
        pairs = _assignments(match.group(1))
        if pairs is None:
            opaque = True  # names it assigns are unknown: no parameter may change
            continue
        names.extend(name for name, _ in pairs)
        continued = i + 1 < len(lines) and lines[i + 1].lstrip().startswith("+")
        if not continued and all(_LITERAL_RE.match(value) for _, value in pairs):
            params[i] = tuple(name for name, _ in pairs)
    if len(set(names)) != len(names):
        return None
    return {} if opaque else params


def loaded_deck(deck: str, files: tuple[str, ...] = ()) -> LoadedDeck | None:
    """What ``deck`` offers a next deck once loaded; ``None`` when no other deck may run on its
    circuit (it has a ``.control`` block, or defines a top-level parameter twice)."""
    if has_control_block(deck):
        return None
    lines = tuple(deck.splitlines())
    params = _literal_params(lines)
    if params is None:
        return None
    return LoadedDeck(lines, params, file_stamps(m.path for m in include_closure(deck, files)))


def policy_skeleton(deck: str) -> str:
    """``deck`` with the values on its top-level one-line literal ``.param`` lines removed.

    The deck policy reads only control commands, ``.option`` lines and includes, never ``.param``
    values, so two decks of one skeleton get the same verdict (given the same included files). A
    ``.control`` block stays as it is (the built-in testbench's decks are scripts: without this,
    every design's deck would be scanned again, sky130's cards included).
    """
    lines = deck.splitlines()
    params = _literal_params(tuple(lines))
    if params is None:
        return deck
    for i, names in params.items():
        lines[i] = ".param " + " ".join(names)
    return "\n".join(lines)


def file_stamps(paths: Iterable[str]) -> tuple[tuple[str, tuple[int, int, int] | None], ...]:
    """Each path with its stat signature (``None``: missing), to tell later whether any changed."""
    return tuple((path, _stamp(path)) for path in paths)


def unchanged(stamps: tuple[tuple[str, tuple[int, int, int] | None], ...]) -> bool:
    """Whether every file still has the stat signature it had in ``stamps``."""
    return all(_stamp(path) == stamp for path, stamp in stamps)


def param_changes(loaded: LoadedDeck, deck: str) -> tuple[tuple[str, str], ...] | None:
    """The ``(name, value)`` assignments that turn the loaded deck into ``deck``; ``None`` when
    anything else differs (another line, another parameter name, an expression, a model file)."""
    lines = deck.splitlines()
    if len(lines) != len(loaded.lines):
        return None
    changes: list[tuple[str, str]] = []
    for i, (old, new) in enumerate(zip(loaded.lines, lines)):
        if old == new:
            continue
        names = loaded.params.get(i)
        match = _PARAM_LINE_RE.match(new) if names is not None else None
        pairs = _assignments(match.group(1)) if match else None
        if pairs is None or tuple(n for n, _ in pairs) != names or not all(_LITERAL_RE.match(v) for _, v in pairs):
            return None
        old_values = dict(_assignments(_PARAM_LINE_RE.match(old).group(1)) or ())  # type: ignore[union-attr]
        changes.extend((n, v) for n, v in pairs if old_values.get(n) != v)
    if not unchanged(loaded.stamps):
        return None
    return tuple(changes)
