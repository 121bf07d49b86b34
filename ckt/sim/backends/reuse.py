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

A deck's ``DeckShape`` is its text with every top-level ``.param`` value blanked, plus the stat of
each file it includes; two decks of one shape differ only in those values. Anything unusual (a
``.control`` block, a parameter defined twice, a value that is an expression) makes a deck
unshared, so it is always loaded afresh.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

from ckt.sim.decktext import has_control_block, include_closure, logical_lines

_PARAM_LINE_RE = re.compile(r"^\s*\.param\s+(.*)$", re.IGNORECASE)
_ASSIGN_RE = re.compile(r"\s*([A-Za-z_][\w]*)\s*=\s*([^\s=]+)\s*")
# A value alterparam can take as it is: a number with optional SPICE suffix, nothing to evaluate.
_LITERAL_RE = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[a-zA-Z]*$")
_SUBCKT_RE = re.compile(r"^\s*\.subckt\b", re.IGNORECASE)
_ENDS_RE = re.compile(r"^\s*\.ends\b", re.IGNORECASE)


@dataclass(frozen=True)
class DeckShape:
    """What a deck is apart from its top-level parameter values.

    Attributes:
        key: digest of the deck with its ``.param`` values blanked and of its include files' stats;
            ``None`` for a deck that is never shared (it has a ``.control`` block).
        params: top-level ``.param`` name (lower-case) -> value as written, in deck order.
    """

    key: str | None
    params: tuple[tuple[str, str], ...]


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


def deck_shape(deck: str, files: tuple[str, ...] = ()) -> DeckShape:
    """The shape of ``deck`` (see the module docstring); never raises."""
    if has_control_block(deck):
        return DeckShape(None, ())
    skeleton: list[str] = []
    params: list[tuple[str, str]] = []
    depth = 0
    for line in logical_lines(deck):
        if _SUBCKT_RE.match(line):
            depth += 1
        elif _ENDS_RE.match(line):
            depth = max(depth - 1, 0)
        match = _PARAM_LINE_RE.match(line) if depth == 0 else None
        pairs = _assignments(match.group(1)) if match else None
        if pairs is None or any(not _LITERAL_RE.match(value) for _, value in pairs):
            skeleton.append(line.strip())
            continue
        skeleton.append(".param " + " ".join(f"{name}=" for name, _ in pairs))
        params.extend(pairs)
    names = [name for name, _ in params]
    if len(set(names)) != len(names):
        return DeckShape(None, ())  # which definition wins is ngspice's business: never guess
    digest = hashlib.sha256("\n".join(skeleton).encode("utf-8"))
    for model in include_closure(deck, files):
        try:
            stat = os.stat(model.path)
            stamp = f"{model.path}\0{stat.st_mtime_ns}\0{stat.st_size}\0{stat.st_ino}\0{model.digest}"
        except OSError:
            stamp = f"{model.path}\0missing"
        digest.update(b"\0" + stamp.encode("utf-8", "replace"))
    return DeckShape(digest.hexdigest(), tuple(params))


def param_changes(loaded: DeckShape, new: DeckShape) -> tuple[tuple[str, str], ...] | None:
    """The ``(name, value)`` pairs that turn ``loaded`` into ``new``; ``None`` when no change of
    parameter values can (different shapes, or an unshared deck)."""
    if loaded.key is None or loaded.key != new.key or len(loaded.params) != len(new.params):
        return None
    changes = []
    for (name, old), (new_name, value) in zip(loaded.params, new.params):
        if name != new_name:
            return None
        if value != old:
            changes.append((name, value))
    return tuple(changes)
