"""Binned model cards: which bins a circuit's devices fall in, and model files cut down to those.

A foundry library bins each MOSFET by geometry: sky130's ``nfet_01v8`` is ~90 ``.model`` cards in
its wrapper subcircuit, each valid for an ``[lmin, lmax] x [wmin, wmax]`` box. ngspice expands the
cards for every instance and ``reset`` parses them all again, so on the sky130 Miller op-amp a
design on a loaded circuit costs ~49 ms where the analysis takes ~7 ms (ngspice 39). A sizing run
visits a handful of bins; a copy of the library without the others parses in a fraction of that.

Exact by construction. ngspice gives a device the first card, in file order, named ``BASE.N`` whose
box holds its L and W (W per finger under ``wnflag``; edges within 1 nm count). A pruned copy
keeps the order and the text of every card it keeps; when it keeps every card whose box, widened
by a margin (ngspice's edge tolerance and the six digits ``show`` prints), holds a device's
geometry, the first of them is the card the full library gives. The geometry is what ngspice
reports for the loaded circuit (``show m : l w nf``), so no expression is evaluated here. A device
that moves into a dropped box makes the load fail or the check fail; the caller then reads the
geometry from the deck loaded on stub cards (``stub_text``: each card cut to its type, level and
box, a load of milliseconds) and keeps that box from then on.

The sky130 cards draw random numbers (AGAUSS mismatch terms) in card order, so pruning changes
which draw each kept card gets. That matters only when the draws are meant to repeat: a deck or
library that seeds the generator (``.options seed``, a reproducible Monte Carlo sample) is never
pruned.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ckt.sim.decktext import in_script, rewrite_includes

GEOMETRY_COMMAND = "show m : l w nf"
"""The ngspice command whose output ``read_geometry`` reads: every MOSFET's L, W and finger count."""

_MODEL_RE = re.compile(r"^\s*\.model\s+(\S+)", re.IGNORECASE)
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_BOUND_RE = re.compile(rf"\b(lmin|lmax|wmin|wmax)\s*=\s*({_NUMBER})(?=[\s,)]|$)", re.IGNORECASE)
_ANY_BOUND_RE = re.compile(r"\b(?:lmin|lmax|wmin|wmax)\s*=", re.IGNORECASE)
_SEED_RE = re.compile(r"^\s*\.options?\b.*\bseed\s*=", re.IGNORECASE | re.MULTILINE)

# Beyond ngspice's 1 nm edge tolerance, ``show`` prints six significant digits.
_MARGIN_ABS = 2e-9
_MARGIN_REL = 1e-5


@dataclass(frozen=True)
class Bin:
    """One binned ``.model`` card: its name (lower case) and its geometry box in metres."""

    name: str
    lmin: float
    lmax: float
    wmin: float
    wmax: float



def _cards(lines: list[str]) -> Iterable[tuple[int, int, str]]:
    """``(first line, end line, name)`` of each ``.model`` card: its line, then every ``+``,
    comment or blank line up to the next statement."""
    i = 0
    while i < len(lines):
        match = _MODEL_RE.match(lines[i])
        if match is None:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and (not lines[end].strip() or lines[end].lstrip()[0] in "+*"):
            end += 1
        yield i, end, match.group(1).lower()
        i = end


def _bin(lines: list[str], name: str) -> Bin | None:
    """The card as a ``Bin``: named ``BASE.N`` with four literal bounds; ``None`` otherwise (kept)."""
    if "." not in name.strip("."):
        return None
    text = " ".join(line.lstrip().lstrip("+") for line in lines if not line.lstrip().startswith("*"))
    bounds = {key.lower(): float(value) for key, value in _BOUND_RE.findall(text)}
    if len(bounds) != 4 or len(_ANY_BOUND_RE.findall(text)) != 4:
        return None  # a bound written as an expression, or given twice: not ours to judge
    return Bin(name, bounds["lmin"], bounds["lmax"], bounds["wmin"], bounds["wmax"])


def model_bins(text: str) -> tuple[Bin, ...]:
    """The binned cards of a model file that a pruned copy may drop, in file order."""
    lines = text.splitlines()
    found = (_bin(lines[start:end], name) for start, end, name in _cards(lines))
    return tuple(b for b in found if b is not None)


def _rewrite(text: str, card: Callable[[list[str], Bin], list[str]]) -> str:
    """``text`` with each binned card's lines replaced by ``card(lines, bin)``; the rest as it was."""
    lines = text.splitlines()
    out: list[str] = []
    last = 0
    for start, end, name in _cards(lines):
        found = _bin(lines[start:end], name)
        if found is not None:
            out.extend(lines[last:start])
            out.extend(card(lines[start:end], found))
            last = end
    out.extend(lines[last:])
    return "\n".join(out) + "\n"


def prune_text(text: str, keep: frozenset[str]) -> str:
    """``text`` without the binned cards whose names are not in ``keep``; every other line as it was."""
    return _rewrite(text, lambda lines, b: lines if b.name in keep else [])


_LEVEL_RE = re.compile(rf"\blevel\s*=\s*({_NUMBER})(?=[\s,)]|$)", re.IGNORECASE)


def stub_text(text: str) -> str:
    """``text`` with each binned card cut to its type, level and box: a library that loads in a few
    milliseconds and binds every device as the full one would, so that ngspice can report the
    devices' geometry (nothing is simulated on it)."""

    def stub(lines: list[str], b: Bin) -> list[str]:
        words = lines[0].split()
        body = " ".join(line.lstrip().lstrip("+") for line in lines if not line.lstrip().startswith("*"))
        level = _LEVEL_RE.search(body)
        if len(words) < 3 or not re.fullmatch(r"[A-Za-z]\w*", words[2]):
            return lines  # the type is not where a stub can copy it from: keep the card
        options = f" level={level.group(1)}" if level else ""
        box = f"lmin={b.lmin!r} lmax={b.lmax!r} wmin={b.wmin!r} wmax={b.wmax!r}"
        return [f".model {words[1]} {words[2]}{options} {box}"]

    return _rewrite(text, stub)


def read_geometry(lines: Iterable[str]) -> tuple[tuple[float, float], ...] | None:
    """The ``(L, W)`` points that bin the MOSFETs ``show m : l w nf`` listed (W and W per finger,
    since ``wnflag`` decides which counts); ``None`` when the listing cannot be read."""
    points: list[tuple[float, float]] = []
    block: dict[str, list[float]] | None = None
    columns = 0

    def close() -> bool:
        if block is None:
            return True
        lengths, widths = block.get("l"), block.get("w")
        fingers = block.get("nf", [1.0] * columns)
        if lengths is None or widths is None or not len(lengths) == len(widths) == len(fingers) == columns:
            return False
        for length, width, nf in zip(lengths, widths, fingers):
            points.append((length, width))
            if nf > 0 and nf != 1:
                points.append((length, width / nf))
        return True

    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "device":
            if not close():
                return None
            block, columns = {}, len(parts) - 1
        elif block is not None and parts[0] in ("l", "w", "nf"):
            try:
                block[parts[0]] = [float(p) for p in parts[1:]]
            except ValueError:
                return None
    return tuple(points) if close() else None


# Control commands that run analyses on the circuit as loaded and read or print results; anything
# else (``reset``, ``alter``, ``alterparam``, ``source``, ``circbyline``...) may rebuild the circuit
# with bins the check after the script never saw.
_SCRIPT_COMMANDS = frozenset({
    "op", "ac", "dc", "tran", "noise", "pz", "tf", "sens", "let", "set", "unset", "meas", "measure",
    "if", "else", "end", "while", "repeat", "dowhile", "break", "continue", "setplot", "print", "echo",
    "destroy", "wrdata", "write", "show", "showmod", "fourier", "linearize", "display", "save",
})


def script_keeps_circuit(deck: str) -> bool:
    """Whether every control command of ``deck`` only analyses the circuit as loaded (so the
    geometry read after the script is the geometry it ran with). Control commands are the lines
    of ``.control`` blocks (``in_script``) and ``*#`` lines, as ngspice runs them."""
    lines = deck.splitlines()
    for line, script in zip(lines, in_script(lines)):
        head = line.strip().lower()
        if script and (head.startswith(".control") or re.match(r"\.endc(\s|$)", head)):
            continue  # the block's markers
        command = head[2:].strip() if head.startswith("*#") else head if script else ""
        words = command.split()
        if words and not words[0].startswith("*") and words[0] not in _SCRIPT_COMMANDS:
            return False
    return True


def seeds_random(text: str) -> bool:
    """Whether the text seeds ngspice's random numbers (so its draws must repeat exactly)."""
    return _SEED_RE.search(text) is not None


class BinnedLibrary:
    """The model files of one deck, and copies of them holding only the bins its devices have used.

    Args:
        texts: absolute path -> content of every file the deck reads (its include closure), read
            as latin-1 so that the copies keep every byte.
        root: where pruned copies go (one folder per kept set).
    """

    def __init__(self, texts: Mapping[str, str], root: Path) -> None:
        self._texts = dict(texts)
        self._bins = {path: bins for path, text in self._texts.items() if (bins := model_bins(text))}
        every = [b for bins in self._bins.values() for b in bins]
        self._names = [b.name for b in every]
        self._low = np.array([(b.lmin, b.wmin) for b in every], dtype=np.float64).reshape(-1, 2)
        self._high = np.array([(b.lmax, b.wmax) for b in every], dtype=np.float64).reshape(-1, 2)
        self._root = root
        self.keep: frozenset[str] = frozenset()
        # A non-ASCII path could not be written into a latin-1 copy as the original spells it; a
        # script in a model file runs as the deck loads (ngspice runs included .control blocks).
        self.usable = (bool(self._bins) and all(path.isascii() for path in self._texts)
                       and not any(seeds_random(text) or not script_keeps_circuit(text)
                                   for text in self._texts.values()))
        self._mirrors: dict[tuple[str, frozenset[str]], dict[str, str]] = {}
        self.probing = True  # the stub copy loads (see ``probe_deck``)

    @property
    def bins(self) -> int:
        """How many cards a pruned copy may drop."""
        return sum(len(bins) for bins in self._bins.values())

    def needs(self, points: Iterable[tuple[float, float]]) -> frozenset[str]:
        """Every binned card whose box, widened by the margin, holds one of ``points``."""
        p = np.asarray(tuple(points), dtype=np.float64).reshape(-1, 1, 2)  # (points, 1, [L, W])
        margin = _MARGIN_ABS + _MARGIN_REL * np.abs(p)
        inside = ((self._low - margin <= p) & (p <= self._high + margin)).all(axis=2).any(axis=0)
        return frozenset(self._names[i] for i in np.flatnonzero(inside))

    def covers(self, points: Iterable[tuple[float, float]]) -> bool:
        """Whether the kept cards include every card that could bin these devices."""
        return self.needs(points) <= self.keep

    def grow(self, points: Iterable[tuple[float, float]]) -> None:
        """Keep the cards that bin these devices too."""
        self.keep |= self.needs(points)

    def deck(self, deck: str, cwd: str) -> str:
        """``deck`` reading the pruned copies (written on first use of this kept set).

        Include paths in the deck resolve against ``cwd``. Files with nothing to drop appear in the
        copy as links to the originals, so relative includes between files keep working.
        """
        return self._point(deck, cwd, self._write("pruned", self.keep))

    def probe_deck(self, deck: str, cwd: str) -> str:
        """``deck`` reading stub copies (``stub_text``): loaded only to read the devices' geometry."""
        return self._point(deck, cwd, self._write("stub", frozenset()))

    @staticmethod
    def _point(deck: str, cwd: str, targets: dict[str, str]) -> str:
        def target(written: str) -> str | None:
            expanded = os.path.expanduser(written)
            return targets.get(os.path.normpath(expanded if os.path.isabs(expanded) else os.path.join(cwd, expanded)))

        return rewrite_includes(deck, target)

    def _write(self, kind: str, keep: frozenset[str]) -> dict[str, str]:
        if (kind, keep) in self._mirrors:
            return self._mirrors[kind, keep]
        digest = hashlib.sha256("\0".join([kind, *sorted(self._texts), "\1", *sorted(keep)]).encode())
        folder = self._root / digest.hexdigest()[:20]
        targets = {path: str(folder / path.lstrip("/\\")) for path in self._texts}

        def absolute(written: str) -> str | None:  # relative includes stay valid in the mirrored layout
            expanded = os.path.expanduser(written)
            return targets.get(os.path.normpath(expanded)) if os.path.isabs(expanded) else None

        for path, text in self._texts.items():
            local = Path(targets[path])
            if local.exists() or local.is_symlink():
                continue
            local.parent.mkdir(parents=True, exist_ok=True)
            if path not in self._bins:
                try:
                    local.symlink_to(path)
                except FileExistsError:
                    pass
                continue
            cut = stub_text(text) if kind == "stub" else prune_text(text, keep)
            partial = local.with_name(local.name + f".{os.getpid()}.part")
            partial.write_text(rewrite_includes(cut, absolute), encoding="latin-1")
            partial.replace(local)
        if kind == "pruned":  # one pruned set is current at a time
            self._mirrors = {k: v for k, v in self._mirrors.items() if k[0] != "pruned"}
        self._mirrors[kind, keep] = targets
        return targets
