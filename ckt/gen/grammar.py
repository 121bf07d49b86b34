"""The generator's grammar: an incremental state machine that masks every next token so that each
finished sequence is a valid circuit (``ckt.gen.rules``) and no sequence can dead-end.

A sequence is ``<bos> <type:T>`` then a walk ``net edge device edge net ...`` then ``<eos>``
(``ckt.gen.vocab``). The state tracks what the walk has built so far — per device its family, which
pins sit on which net; per net the devices on it; the ports present and which of them conduct —
and allows a token only when

* it is the kind of token that comes next (strict node/edge alternation, device families matching
  the edge's pins, a revisited device–net edge carrying the same pins, a new edge only pins still
  free and a net not yet on that device);
* it breaks no device rule: no edge may put all of a device's active terminals on one net
  (``one-net``) nor a MOSFET's drain, gate and source together (``ds-short``) — both are properties
  of one edge token, so they are checked when the edge is chosen;
* the obligations still open afterwards can be met within ``max_len``. ``<eos>`` comes only when
  none is open: every device has all its pins, every internal net touches two devices and a
  non-gate terminal (``dangling``, ``gate-only``), the type's ports are there (``ports``, a supply
  among them: ``supply``); ``connected`` holds for any walk;
* a new device is of a family the type may use (``Grammar(families=...)``; all by default), and an
  edge puts on one net only pin sets the type ties (``Grammar(pin_sets=...)``; all by default).

Length is reserved with ``_cost``: the exact length of one concrete completion, so it is never too
optimistic. The completion goes to each missing port and dangling net through a new two-pin (or
split) device, then closes every open device in four tokens (an edge onto it from a net it is not
on, an edge carrying its other pins to a port), with a four-token detour when the only way on is
blocked by a MOSFET (BJT) that has nothing but its bulk (substrate) on the current net. Each step of
that completion lowers the cost by at least one, so some allowed token always remains.
Most steps are far from ``max_len``: there a token's cost rise is bounded (``_DELTA``) and only the
rules are masked; near the end each candidate is tried and undone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ckt.errors import GrammarError, ModelConfigError
from ckt.gen.rules import CONTROL, GATES, SUPPLIES, PortNeed, requirement
from ckt.gen.vocab import Vocab
from ckt.netlist.ir import DeviceKind

STATE_CODES = 16
"""Distinct ``GrammarState.code`` values (the generator's state-embedding table size)."""

INF = 1 << 30
"""Cost of a state with no completion the grammar can vouch for (such states are never entered)."""

_START, _NODE, _TO_DEV, _TO_NET, _DONE = range(5)
_MISSING = object()

_CLEAN_MIN = 8
"""Ports free of bulk-only MOSFETs the completion needs to pick sinks from (a device spans <= 5 nets)."""
_DELTA = 24
"""Upper bound on how much one token can raise ``_cost`` (checked by the tests on random walks)."""


def _bits(mask: int) -> int:
    return bin(mask).count("1")


def _split(illegal: Sequence[bool], r: int) -> int | None:
    """The first legal part ``m`` of pin mask ``r`` whose rest ``r & ~m`` is legal too (None: none)."""
    return next((m for m in range(1, r) if m & r == m and not illegal[m] and not illegal[r & ~m]), None)


@dataclass(frozen=True, slots=True, eq=False)
class _Req:
    """A type's port requirement over port token ids: needs as (matching ids, minimum, conducting)."""

    needs: tuple[tuple[frozenset[int], int, bool], ...]
    min_ports: int
    sig: dict[int, int]
    """Port id -> bit set of the needs it matches."""


@dataclass(frozen=True, slots=True, eq=False)
class _Tables:
    """Per family, what its pin masks allow: forbidden masks, the legal edges within each free-pin
    mask, a legal part of each forbidden mask (``split``), whether the family can carry a walk on
    (``hop``), what the cost sees of a mask; per edge token, the (family, mask) pairs that take it."""

    illegal: list[list[bool]]
    legal_sub: list[list[np.ndarray]]
    split: list[dict[int, int]]
    hop: list[bool]
    props: list[dict[int, tuple]]
    takers: dict[int, list[tuple[int, int]]]
    _fam_legal: dict[tuple[bool, ...], np.ndarray]

    def fam_legal(self, free: tuple[bool, ...]) -> np.ndarray:
        """Edges a new device could take: the legal edges of every family with a free index."""
        if free not in self._fam_legal:
            arr = np.zeros(self.legal_sub[0][0].shape[0], dtype=bool)
            for k, ok in enumerate(free):
                if ok:
                    arr |= self.legal_sub[k][-1]
            self._fam_legal[free] = arr
        return self._fam_legal[free]


class Grammar:
    """The grammar over ``vocab`` for sequences of at most ``max_len`` tokens (``<bos>``, ``<eos>`` included).

    Holds the lookup tables every state shares (per family: pin masks of the edge tokens, which pin
    sets may go on one net, gates, conducting pins; per type: the port requirement over port ids).

    Args:
        vocab: the token vocabulary.
        max_len: the longest sequence; the grammar reserves room for every open obligation.
        canonical: a new device takes the lowest unused number of its family, a new internal net
            the lowest unused ``N``: every circuit still has its sequences (numbering is only a
            renaming), and a model trained on first-appearance numbers is asked only what it learnt.
        families: per type, the device families (``NM``, ``R``...) its circuits may use; a type not
            listed (or None) may use every family. A generator passes the families its training
            circuits of each type use, so that no mirror gets a PFD or op-amp an XOR gate that no real
            one has.
        pin_sets: per type, the ``(family, pins)`` sets of two or more pins its circuits may put on
            one net (``("NM", ("s", "b"))``); a listed type may tie no other set (except those
            ``_restricted`` takes back so that every device can close), a type not listed any set
            the device rules allow. A generator passes the sets its training circuits tie.

    Raises:
        ModelConfigError: ``families`` or ``pin_sets`` names an unknown family (or pin), or leaves
            a type no family that can carry a net onward (the completion needs one).
    """

    def __init__(self, vocab: Vocab, max_len: int = 1024, canonical: bool = False,
                 families: Mapping[str, Collection[str]] | None = None,
                 pin_sets: Mapping[str, Collection[tuple[str, Sequence[str]]]] | None = None) -> None:
        self.vocab = vocab
        self.max_len = int(max_len)
        self.canonical = canonical
        n = len(vocab)
        kinds = [vocab.kind(i) for i in range(n)]
        self.n_tokens = n
        self.fams = vocab.families
        self.dev_fam = np.full(n, -1, dtype=np.int64)
        self.dev_ids: list[np.ndarray] = []
        for k, f in enumerate(self.fams):
            ids = np.array(vocab.device_ids(f.name), dtype=np.int64)
            self.dev_ids.append(ids)
            self.dev_fam[ids] = k
        self.net_ids = np.array(vocab.net_ids, dtype=np.int64)
        self.port_ids = np.array(vocab.port_ids, dtype=np.int64)
        self.internal_ids = np.array(vocab.internal_ids, dtype=np.int64)
        self.is_port = np.zeros(n, dtype=bool)
        self.is_port[self.port_ids] = True
        self.is_net = np.zeros(n, dtype=bool)
        self.is_net[self.net_ids] = True
        self.edge_ids = np.array([i for i, k in enumerate(kinds) if k == "edge"], dtype=np.int64)
        self.full: list[int] = []
        self.gate: list[int] = []
        self.cond: list[int] = []
        self.emask: list[dict[int, int]] = []      # per family: edge id -> pin mask
        self.edge_of: list[dict[int, int]] = []    # per family: pin mask -> edge id
        shorts: list[list[bool]] = []              # per family, per pin mask: a device rule forbids it
        for f in self.fams:
            pins = f.pins
            full = (1 << len(pins)) - 1
            bit = {p: 1 << i for i, p in enumerate(pins)}
            active = sum(bit[p] for p in pins if not (f.kind is DeviceKind.BJT and p == "sub"))
            dgs = sum(bit[p] for p in ("d", "g", "s")) if f.kind is DeviceKind.MOSFET else 0
            shorts.append([m == 0 or (len(pins) > 1 and m & active == active) or (dgs != 0 and m & dgs == dgs)
                           for m in range(full + 1)])
            edge_of = {m: vocab.edge_token(f.name, tuple(p for p in pins if m & bit[p])) for m in range(1, full + 1)}
            self.full.append(full)
            self.gate.append(sum(bit[p] for p in pins if (f.kind, p) in GATES))
            self.cond.append(sum(bit[p] for p in pins if (f.kind, p) not in CONTROL))
            self.edge_of.append(edge_of)
            self.emask.append({e: m for m, e in edge_of.items()})
        self.shorts = shorts
        """Per family, per pin mask: whether a device rule (one-net, ds-short) forbids it."""
        self._base = self._tables(shorts)
        self._reqs: dict[str, _Req] = {}
        self._typed: dict[str, _Tables] = {}
        """Per type restricted to some pin sets: its own tables (see ``tables``)."""
        index = {f.name: k for k, f in enumerate(self.fams)}
        for ckt_type, sets in (pin_sets or {}).items():
            allowed: list[set[int]] = [set() for _ in self.fams]
            for name, group in sets:
                if name not in index:
                    raise ModelConfigError(f"type {ckt_type}: pin sets of an unknown device family {name}")
                k = index[name]
                order = self.fams[k].pins
                if not group or not set(group) <= set(order):
                    raise ModelConfigError(f"type {ckt_type}: {'+'.join(group) or 'no pin'} is not a pin set of {name}")
                allowed[k].add(sum(1 << order.index(p) for p in group))
            self._typed[ckt_type] = self._tables([self._restricted(k, allowed[k]) for k in range(len(self.fams))])
        self.families: dict[str, tuple[bool, ...]] = {}
        """Per restricted type: which families (by position in ``fams``) it may use."""
        for ckt_type, names in (families or {}).items():
            unknown = sorted(set(names) - set(index))
            if unknown:
                raise ModelConfigError(f"type {ckt_type}: unknown device families {', '.join(unknown)}")
            self.families[ckt_type] = tuple(f.name in names for f in self.fams)
        for ckt_type in {*self.families, *self._typed}:
            hop = self.tables(ckt_type).hop
            if not any(o and h for o, h in zip(self.may_use(ckt_type), hop, strict=True)):
                names = [f.name for f, ok in zip(self.fams, self.may_use(ckt_type), strict=True) if ok]
                raise ModelConfigError(f"type {ckt_type} may use only {', '.join(sorted(names)) or 'no family'}: "
                                       "a circuit needs a family with two conducting pins to close")

    def _restricted(self, k: int, allowed: set[int]) -> list[bool]:
        """Family ``k``'s forbidden pin masks when only ``allowed`` masks of two or more pins may
        share a net: the shorts, and every other multi-pin mask not allowed — except those taken
        back so that any set of free pins can still close in two edges, as the completion ``_cost``
        plans (smallest parts first: a data set that never ties B, E and the substrate of a BJT
        gets the pair E+substrate back, not the triple)."""
        shorts = self.shorts[k]
        full = self.full[k]
        out = [shorts[m] or (_bits(m) >= 2 and m not in allowed) for m in range(full + 1)]
        for r in sorted(range(1, full + 1), key=_bits):
            if not out[r] or _split(out, r) is not None:
                continue
            parts = [(max(_bits(m), _bits(r & ~m)), m, r & ~m) for m in range(1, r)
                     if m & r == m and not shorts[m] and not shorts[r & ~m]]
            if not shorts[r]:
                parts.append((_bits(r), r, r))
            _, a, b = min(parts)
            out[a] = out[b] = False
        return out

    def _tables(self, illegal: list[list[bool]]) -> _Tables:
        """The per-family lookup tables of a grammar whose forbidden pin masks are ``illegal``."""
        legal_sub, split, hop, props = [], [], [], []
        for k, ill in enumerate(illegal):
            full, gate, cond, edge_of = self.full[k], self.gate[k], self.cond[k], self.edge_of[k]
            subs = []
            for r in range(full + 1):
                arr = np.zeros(self.n_tokens, dtype=bool)
                for m in range(1, full + 1):
                    if m & r == m and not ill[m]:
                        arr[edge_of[m]] = True
                subs.append(arr)
            parts = {r: part for r in range(1, full + 1) if ill[r] and (part := _split(ill, r)) is not None}
            hop.append(any(m & full == m and not ill[m] and not ill[full & ~m]
                           and m & cond & ~gate and (full & ~m) & cond & ~gate for m in range(1, full)))
            seen = {}
            for m in range(full + 1):
                key = (_bits(m), bool(m & ~gate), bool(m & cond), ill[m])
                seen[m] = key + ((_bits(m & ~parts[m]), bool(m & ~parts[m] & ~gate),
                                  bool(m & ~parts[m] & cond)) if m in parts else ())
            legal_sub.append(subs)
            split.append(parts)
            props.append(seen)
        takers: dict[int, list[tuple[int, int]]] = {int(e): [] for e in self.edge_ids}
        for k, ill in enumerate(illegal):
            for e, m in self.emask[k].items():
                if not ill[m]:
                    takers[e].append((k, m))
        return _Tables(illegal, legal_sub, split, hop, props, takers, {})

    def tables(self, ckt_type: str) -> _Tables:
        """The lookup tables a ``ckt_type`` sequence is built with (the type's own when its pin
        sets are restricted)."""
        return self._typed.get(ckt_type, self._base)

    def may_use(self, ckt_type: str) -> tuple[bool, ...]:
        """Per family (in ``fams`` order): whether a ``ckt_type`` circuit may hold one."""
        return self.families.get(ckt_type, (True,) * len(self.fams))

    def requirement(self, ckt_type: str) -> _Req:
        """The port requirement of ``ckt_type`` (``rules.requirement``) over port ids, a supply added."""
        if ckt_type not in self._reqs:
            rq = requirement(ckt_type)
            needs = [*rq.needs, PortNeed(names=tuple(sorted(SUPPLIES)))]
            table = []
            for need in needs:
                ids = frozenset(int(p) for p in self.port_ids if need.matches(self.vocab.token(int(p))))
                table.append((ids, need.minimum, need.conducting))
            sig = {int(p): sum(1 << i for i, (ids, _, _) in enumerate(table) if int(p) in ids)
                   for p in self.port_ids}
            self._reqs[ckt_type] = _Req(tuple(table), rq.min_ports, sig)
        return self._reqs[ckt_type]

    def start(self, ckt_type: str, max_len: int | None = None) -> GrammarState:
        """A state holding ``<bos> <type:ckt_type>``.

        Args:
            ckt_type: the circuit class.
            max_len: this sequence's own length budget (at most the grammar's ``max_len``; None:
                the grammar's). The reserve that lets every sequence finish within ``max_len`` then
                closes this one within its budget, which is how a sampler asks for a circuit of
                about a given size.

        Raises:
            TokenizeError: ``ckt_type`` is not a class of the vocabulary.
            GrammarError: the budget is too short for any circuit of that type, or above ``max_len``.
        """
        budget = self.max_len if max_len is None else int(max_len)
        if budget > self.max_len:
            raise GrammarError(f"a sequence budget of {budget} tokens exceeds the grammar's max_len {self.max_len}")
        state = GrammarState(self, ckt_type, budget)
        need = state._cost(-1)
        if need > budget - 2:
            raise GrammarError(f"max_len {budget} is too short for a {ckt_type} circuit "
                               f"(the shortest needs {need + 2} tokens)")
        return state

    def shortest(self, ckt_type: str) -> int:
        """Tokens the shortest circuit of ``ckt_type`` takes, ``<bos>`` to ``<eos>``."""
        return GrammarState(self, ckt_type, self.max_len)._cost(-1) + 2

    def check(self, ids: Sequence[int]) -> None:
        """Raise ``GrammarError`` at the first token of ``ids`` the grammar does not allow.

        ``ids`` is a whole sequence: ``<bos> <type:T>`` walk ``<eos>``, then only ``<pad>``.
        """
        ids = [int(i) for i in ids]
        if len(ids) < 2 or ids[0] != self.vocab.bos:
            raise GrammarError("a sequence starts with <bos>", 0)
        if ids[1] >= len(self.vocab) or ids[1] < 0 or self.vocab.kind(ids[1]) != "type":
            raise GrammarError("the second token is a circuit type token", 1)
        state = self.start(self.vocab.type_name(ids[1]))
        for pos in range(2, len(ids)):
            t = ids[pos]
            if state.finished:
                if t != self.vocab.pad:
                    raise GrammarError(f"{self._name(t)} after <eos>: only <pad> may follow", pos)
                continue
            if pos >= self.max_len:
                raise GrammarError(f"the sequence is longer than max_len {self.max_len}", pos)
            if not 0 <= t < len(self.vocab):
                raise GrammarError(f"token id {t} is outside the vocabulary", pos)
            if not state.allowed()[t]:
                raise GrammarError(state.why_not(t), pos)
            state.push(t)
        if not state.finished:
            raise GrammarError(f"the sequence ends before <eos> ({state.why_not(self.vocab.eos)})", len(ids))

    def codes(self, ids: Sequence[int]) -> list[int]:
        """``GrammarState.code`` after each token of ``ids`` (``<bos> <type> ...``; the two prompt
        positions both get the fresh state's code): what the generator reads beside them.

        Raises:
            GrammarError: ``ids`` is not a sequence the grammar accepts.
        """
        state = self.start(self.vocab.type_name(ids[1]))
        out = [state.code, state.code]
        for t in ids[2:]:
            state.push(t)
            out.append(state.code)
        return out

    def accepts(self, ids: Sequence[int]) -> bool:
        """Whether ``check`` passes."""
        try:
            self.check(ids)
        except GrammarError:
            return False
        return True

    def _name(self, t: int) -> str:
        return self.vocab.token(t) if 0 <= t < len(self.vocab) else f"id {t}"


class GrammarState:
    """One sequence being built; ``allowed()`` masks the next token, ``push`` takes it.

    All changes go through a journal so that a candidate token can be tried and undone when the
    length budget is tight.
    """

    __slots__ = ("_g", "_t", "_req", "_tokens", "_phase", "_cur", "_edge", "_emask", "_dev", "_net",
                 "_ng", "_cond", "_present", "_deficient", "_n_open", "_n2", "_nbad", "_n1att",
                 "_unclean", "_free", "_hop_free", "_m", "_m_margin", "_used", "_log", "_n_dev",
                 "_open_keys", "_mask", "_max_len")

    def __init__(self, grammar: Grammar, ckt_type: str, max_len: int) -> None:
        g = grammar
        self._g = g
        self._t = g.tables(ckt_type)
        self._max_len = max_len
        self._tokens = [g.vocab.bos, g.vocab.type_token(ckt_type)]
        self._req = g.requirement(ckt_type)
        self._phase = _START
        self._cur = -1
        self._edge = -1
        self._emask = 0
        self._dev: dict[int, list] = {}          # device id -> [family, assigned pin mask, {net: mask}]
        self._net: dict[int, dict[int, int]] = {}  # net id -> {device: mask}
        self._ng: dict[int, bool] = {}           # net id -> touches a non-gate terminal
        self._cond: dict[int, bool] = {}         # port ids touching a conducting terminal
        self._present: dict[int, bool] = {}      # port ids in the walk
        self._deficient: dict[int, bool] = {}    # internal nets short of two devices or only on gates
        self._n_open = 0                          # devices with a pin still free
        self._n2 = 0                              # ... with two or more
        self._nbad: dict[int, int] = {}          # net -> open devices whose free pins may not go on one net
        self._n1att: dict[int, int] = {}         # net -> open devices with one free pin that sit on it
        self._unclean = 0                         # ports with a _nbad device
        self._free = [g.vocab.max_index if ok else 0 for ok in g.may_use(ckt_type)]
        self._hop_free = sum(n for n, hop in zip(self._free, self._t.hop, strict=True) if hop)
        self._used = np.zeros(g.n_tokens, dtype=bool)
        self._log: list[tuple] = []
        self._n_dev = 0
        self._open_keys: dict[tuple[int, int], int] = {}  # (family, free mask) -> open devices
        self._m, self._m_margin = _visits(self._req, frozenset(), frozenset())
        self._mask: np.ndarray | None = None

    # ----- public API -----

    @property
    def tokens(self) -> tuple[int, ...]:
        return tuple(self._tokens)

    @property
    def finished(self) -> bool:
        return self._phase == _DONE

    def allowed(self) -> torch.Tensor:
        """Which tokens may come next (a bool tensor over the vocabulary); all False once finished."""
        return torch.from_numpy(self._allowed().copy())

    @property
    def code(self) -> int:
        """What is still open, as one small integer the generator reads beside each token: the
        number of open obligations (devices with a free pin, dangling internal nets, missing ports),
        capped at ``STATE_CODES - 1``; 0 once the circuit could end. The model cannot easily count
        pins over a long walk; the grammar knows, so it tells."""
        if not self._n_dev:
            return min(1 + self._m, STATE_CODES - 1)
        return min(self._n_open + len(self._deficient) + self._m, STATE_CODES - 1)

    def push(self, token: int) -> None:
        """Append ``token``; raises ``GrammarError`` when ``allowed()`` does not hold it (a bug)."""
        t = int(token)
        if not 0 <= t < self._g.n_tokens:
            raise GrammarError(f"token id {t} is outside the vocabulary", len(self._tokens))
        if not self._allowed()[t]:
            raise GrammarError(self.why_not(t), len(self._tokens))
        self._apply(t)
        self._tokens.append(t)
        self._log.clear()
        self._mask = None

    def why_not(self, t: int) -> str:
        """A sentence saying why ``t`` may not come next (or that it may)."""
        g, v = self._g, self._g.vocab
        name = v.token(t)
        if self._phase == _DONE:
            return f"{name} after <eos>"
        syntax = self._syntax()
        if syntax[t]:
            if self._allowed()[t]:
                return f"{name} is allowed here"
            left = self._max_len - len(self._tokens) - 1
            return (f"{name} leaves obligations that need more than the {left} tokens left "
                    f"(max_len {self._max_len})")
        if t == v.eos and self._phase == _NODE:
            return "<eos> before every obligation is met: " + "; ".join(self._open_obligations())
        expect = {_START: "a net", _NODE: "an edge or <eos>", _TO_DEV: "a device", _TO_NET: "a net"}[self._phase]
        kind = v.kind(t)
        want = {_START: "net", _NODE: "edge", _TO_DEV: "device", _TO_NET: "net"}[self._phase]
        if kind != want:
            return f"{name} where {expect} must come"
        cur = v.token(self._cur) if self._cur >= 0 else ""
        if self._phase == _NODE and self._cur in self._dev:
            f, asg, nets = self._dev[self._cur]
            m = g.emask[f].get(t)
            if m is None:
                return f"{name} names pins {cur} does not have"
            if m & asg:
                return f"{name}: some of these pins of {cur} are already on a net"
            return self._refused(f, m, cur)
        if self._phase == _NODE:
            return f"{name} fits no device that could sit on {cur}"
        if self._phase == _TO_DEV:
            y = self._cur
            if t in self._dev:
                f, asg, nets = self._dev[t]
                m = g.emask[f].get(self._edge)
                if m is None:
                    return f"{name} has no pins {v.token(self._edge)}"
                if y in nets:
                    return f"{name} already sits on {cur} with other pins"
                if m & asg:
                    return f"{name}: pins of {v.token(self._edge)} are already on a net"
                return self._refused(f, m, name)
            f = int(g.dev_fam[t])
            if g.emask[f].get(self._edge) is None:
                return f"{name} has no pins {v.token(self._edge)}"
            if self._free[f] == 0:
                ckt_type = v.type_name(self._tokens[1])
                if not g.may_use(ckt_type)[f]:
                    return f"{g.fams[f].name} is not a family {ckt_type} circuits use"
                return f"no free {g.fams[f].name} index"
            m = g.emask[f][self._edge]
            if not self._t.illegal[f][m]:
                return f"{name} is not the lowest unused {g.fams[f].name} number (canonical numbering)"
            return self._refused(f, m, name)
        x = self._cur
        for net, m in self._dev[x][2].items():
            if m == self._emask:
                return f"{v.token(self._edge)} of {cur} is its edge to {v.token(net)}, not {name}"
        return f"{cur} already sits on {name} with other pins"

    def _refused(self, f: int, m: int, device: str) -> str:
        g = self._g
        pins = "+".join(p for i, p in enumerate(g.fams[f].pins) if m >> i & 1)
        if g.shorts[f][m]:
            return f"{pins} of {device} on one net would short it (all its terminals, or drain, gate and source)"
        return (f"no training {g.vocab.type_name(self._tokens[1])} circuit puts {pins} of a "
                f"{g.fams[f].name} on one net")

    # ----- masks -----

    def _allowed(self) -> np.ndarray:
        """The mask of ``allowed()``, computed once per step."""
        if self._mask is None:
            if self._phase == _DONE:
                self._mask = np.zeros(self._g.n_tokens, dtype=bool)
            else:
                mask = self._syntax()
                budget = self._max_len - len(self._tokens) - 1
                if self._danger() or self._cost(budget - _DELTA) > budget - _DELTA:
                    mask = self._fit(mask, budget)
                self._mask = mask
        return self._mask

    def _syntax(self) -> np.ndarray:
        """Tokens that keep the walk well formed and break no device rule (length not considered)."""
        g = self._g
        mask = np.zeros(g.n_tokens, dtype=bool)
        ph = self._phase
        if ph == _START:
            mask[g.net_ids] = True
            return mask
        if ph == _NODE:
            if self._done():
                mask[g.vocab.eos] = True
            cur = self._cur
            if cur in self._dev:
                f, asg, nets = self._dev[cur]
                for m in nets.values():
                    mask[g.edge_of[f][m]] = True
                r = g.full[f] & ~asg
                if r:
                    mask |= self._t.legal_sub[f][r]
                return mask
            on = self._net[cur]
            for d, m in on.items():
                mask[g.edge_of[self._dev[d][0]][m]] = True
            attached: dict[tuple[int, int], int] = {}
            for d in on:
                f, asg, _ = self._dev[d]
                key = (f, g.full[f] & ~asg)
                attached[key] = attached.get(key, 0) + 1
            for key, count in self._open_keys.items():
                if count > attached.get(key, 0):
                    mask |= self._t.legal_sub[key[0]][key[1]]
            mask |= self._t.fam_legal(tuple(c > 0 for c in self._free))
            return mask
        if ph == _TO_DEV:
            y, e = self._cur, self._edge
            for d, (f, asg, nets) in self._dev.items():
                m = g.emask[f].get(e)
                if m is None:
                    continue
                if y in nets:
                    if nets[y] == m:
                        mask[d] = True
                elif m & asg == 0 and not self._t.illegal[f][m]:
                    mask[d] = True
            for f, _ in self._t.takers[e]:
                if self._free[f]:
                    ids = g.dev_ids[f]
                    if g.canonical:
                        mask[ids[np.argmin(self._used[ids])]] = True
                    else:
                        mask[ids] |= ~self._used[ids]
            return mask
        x = self._cur
        nets = self._dev[x][2]
        for net, m in nets.items():
            if m == self._emask:
                mask[net] = True
                return mask
        mask[g.net_ids] = True
        if g.canonical:
            unused = g.internal_ids[~self._used[g.internal_ids]]
            mask[unused[1:]] = False
        for net in nets:
            mask[net] = False
        return mask

    def _danger(self) -> bool:
        """Whether one token could move a sizeable reserve straight to ``INF`` (then every token is tried)."""
        clean = len(self._g.port_ids) - self._unclean
        return clean <= _CLEAN_MIN + 1 or self._m_margin <= 2 or self._hop_free <= self._m + len(self._deficient) + 6

    def _fit(self, mask: np.ndarray, budget: int) -> np.ndarray:
        """``mask`` less the tokens after which the open obligations no longer fit in ``budget``.

        Tokens the cost cannot tell apart (``_classes``) are tried once for all of them.
        """
        classes = self._classes()
        seen: dict[tuple, bool] = {}
        for t in np.flatnonzero(mask).tolist():
            key = classes(t)
            ok = seen.get(key) if key is not None else None
            if ok is None:
                ok = self._try(t, budget) <= budget
                if key is not None:
                    seen[key] = ok
            mask[t] = ok
        return mask

    def _classes(self):
        """A function token -> key, equal keys for tokens whose successors cost the same (None: unique).

        The cost sees of a pin set only how many pins, whether one is not a gate, whether one conducts,
        whether it may go on one net (and how it splits when not); of a net only whether it is a port
        (which needs it meets), conducts, how many devices it has, a non-gate terminal, its open
        bulk-only and one-pin devices, and whether it dangles.
        """
        g = self._g
        ph = self._phase
        if ph == _NODE and self._cur in self._dev:
            f, asg, nets = self._dev[self._cur]
            r = g.full[f] & ~asg
            taken = {g.edge_of[f][m] for m in nets.values()}
            props = self._t.props[f]

            def device_edge(t: int) -> tuple | None:
                if t in taken or t == g.vocab.eos:
                    return None
                m = g.emask[f][t]
                return ("sub", props[m], props[r & ~m])
            return device_edge
        if ph == _NODE:
            y = self._cur
            existing = np.zeros(g.n_tokens, dtype=bool)
            for d, m in self._net[y].items():
                existing[g.edge_of[self._dev[d][0]][m]] = True
            for f, asg, nets in self._dev.values():
                r = g.full[f] & ~asg
                if r and y not in nets:
                    existing |= self._t.legal_sub[f][r]
            free = self._free

            def net_edge(t: int) -> tuple | None:
                if existing[t] or t == g.vocab.eos:
                    return None
                return ("new", tuple((f, self._t.props[f][m], self._t.props[f][g.full[f] & ~m])
                                     for f, m in self._t.takers[t] if free[f]))
            return net_edge
        if ph == _TO_DEV:
            def device(t: int) -> tuple | None:
                return None if self._used[t] else ("dev", int(g.dev_fam[t]))
            return device
        sig = self._req.sig

        def net(t: int) -> tuple | None:
            port = bool(g.is_port[t])
            if not self._used[t]:
                return ("port", sig[t]) if port else ("net",)
            return ("old", port, sig.get(t, -1), t in self._cond, min(len(self._net[t]), 2), self._ng[t],
                    self._nbad.get(t, 0), self._n1att.get(t, 0), t in self._deficient)
        return net

    # ----- the state machine -----

    def _sa(self, name: str, value) -> None:
        self._log.append((None, name, getattr(self, name)))
        setattr(self, name, value)

    def _sd(self, d: dict, key, value) -> None:
        self._log.append((d, key, d.get(key, _MISSING)))
        d[key] = value

    def _sl(self, seq, i: int, value) -> None:
        self._log.append((seq, i, seq[i]))
        seq[i] = value

    def _del(self, container: dict, key) -> None:
        self._log.append((container, key, container[key]))
        del container[key]

    def _undo(self, mark: int) -> None:
        log = self._log
        while len(log) > mark:
            container, key, old = log.pop()
            if container is None:
                setattr(self, key, old)
            elif old is _MISSING:
                del container[key]
            else:
                container[key] = old

    def _try(self, t: int, limit: int) -> int:
        mark = len(self._log)
        self._apply(t)
        c = self._cost(limit)
        self._undo(mark)
        return c

    def _apply(self, t: int) -> None:
        g = self._g
        ph = self._phase
        if ph == _START:
            self._new_net(t)
            self._sa("_cur", t)
            self._sa("_phase", _NODE)
        elif ph == _NODE:
            if t == g.vocab.eos:
                self._sa("_phase", _DONE)
                return
            if self._cur in self._dev:
                self._sa("_emask", g.emask[self._dev[self._cur][0]][t])
                self._sa("_phase", _TO_NET)
            else:
                self._sa("_phase", _TO_DEV)
            self._sa("_edge", t)
        elif ph == _TO_DEV:
            y = self._cur
            if t not in self._dev:
                self._new_dev(t, int(g.dev_fam[t]))
            rec = self._dev[t]
            if y not in rec[2]:
                self._connect(t, y, g.emask[rec[0]][self._edge])
            self._sa("_cur", t)
            self._sa("_phase", _NODE)
        elif ph == _TO_NET:
            x = self._cur
            if t not in self._net:
                self._new_net(t)
            if t not in self._dev[x][2]:
                self._connect(x, t, self._emask)
            self._sa("_cur", t)
            self._sa("_phase", _NODE)

    def _new_net(self, n: int) -> None:
        self._sd(self._net, n, {})
        self._sd(self._ng, n, False)
        self._sl(self._used, n, True)
        if self._g.is_port[n]:
            self._sd(self._present, n, True)
            self._update_m()
        else:
            self._sd(self._deficient, n, True)

    def _new_dev(self, d: int, f: int) -> None:
        self._sd(self._dev, d, [f, 0, {}])
        self._sl(self._used, d, True)
        self._sl(self._free, f, self._free[f] - 1)
        if self._t.hop[f]:
            self._sa("_hop_free", self._hop_free - 1)
        self._sa("_n_dev", self._n_dev + 1)
        self._count(d, 1)

    def _count(self, d: int, sign: int) -> None:
        """Add (``sign`` 1) or remove (-1) device ``d``'s share of the open-device tallies."""
        g = self._g
        f, asg, nets = self._dev[d]
        r = g.full[f] & ~asg
        if not r:
            return
        self._sa("_n_open", self._n_open + sign)
        key = (f, r)
        c = self._open_keys.get(key, 0) + sign
        if c:
            self._sd(self._open_keys, key, c)
        else:
            self._del(self._open_keys, key)
        nr = _bits(r)
        if nr >= 2:
            self._sa("_n2", self._n2 + sign)
        if self._t.illegal[f][r]:
            for n in nets:
                b = self._nbad.get(n, 0) + sign
                if g.is_port[n] and (b == 0) != (b - sign == 0):
                    self._sa("_unclean", self._unclean + (1 if b else -1))
                self._sd(self._nbad, n, b)
        if nr == 1:
            for n in nets:
                self._sd(self._n1att, n, self._n1att.get(n, 0) + sign)

    def _connect(self, d: int, n: int, mask: int) -> None:
        g = self._g
        self._count(d, -1)
        rec = self._dev[d]
        f = rec[0]
        self._sl(rec, 1, rec[1] | mask)
        self._sd(rec[2], n, mask)
        self._sd(self._net[n], d, mask)
        if mask & ~g.gate[f] and not self._ng[n]:
            self._sd(self._ng, n, True)
        if g.is_port[n]:
            if mask & g.cond[f] and n not in self._cond:
                self._sd(self._cond, n, True)
                self._update_m()
        else:
            bad = len(self._net[n]) < 2 or not self._ng[n]
            if not bad and n in self._deficient:
                self._del(self._deficient, n)
        self._count(d, 1)

    def _update_m(self) -> None:
        m, margin = _visits(self._req, frozenset(self._present), frozenset(self._cond))
        self._sa("_m", m)
        self._sa("_m_margin", margin)

    # ----- obligations and the completion cost -----

    def _done(self) -> bool:
        return self._n_open == 0 and not self._deficient and self._m == 0 and self._n_dev > 0

    def _open_obligations(self) -> list[str]:
        v = self._g.vocab
        out = []
        for d, (f, asg, _) in self._dev.items():
            r = self._g.full[f] & ~asg
            if r:
                pins = [p for i, p in enumerate(self._g.fams[f].pins) if r >> i & 1]
                out.append(f"{v.token(d)} has pins {'+'.join(pins)} on no net")
        for n in self._deficient:
            out.append(f"internal net {v.token(n)} needs two devices and a non-gate terminal")
        if self._m:
            out.append(f"the type's ports are not all there ({self._m} more needed)")
        if not self._n_dev:
            out.append("no device yet")
        return out

    def _stuck(self, n: int) -> bool:
        """Whether at net ``n`` every open device left to close first needs a detour: some have only
        their bulk here and no other open device can lead elsewhere."""
        b = self._nbad.get(n, 0)
        return b > 0 and self._n2 == b and self._n1att.get(n, 0) == 0

    def _c_net(self, y: int) -> int:
        """Cost of the completion from net ``y`` (the walk is at ``y``, an edge or ``<eos>`` next)."""
        if self._done():
            return 1
        if self._m >= INF or len(self._g.port_ids) - self._unclean < _CLEAN_MIN:
            return INF
        m = self._m
        nd = len(self._deficient)
        yd = y in self._deficient
        need2 = yd and not self._net[y]
        k = nd - yd + m + need2
        h1 = k + (1 if yd and k - need2 == 0 else 0)
        if self._n_dev == 0:
            h1 = max(h1, 1)
        if self._n_open == 0:
            best = h1
        else:
            if h1 == 0:
                p1 = self._stuck(y)
            elif m > 0 or k == 0:
                p1 = False
            elif nd - yd == 1:
                p1 = self._stuck(next(n for n in self._deficient if n != y))
            else:
                p1 = False
            best = min(h1 + p1, k + yd + self._stuck(y))
        if self._hop_free < best:
            return INF
        return 1 + 4 * (self._n_open + best)

    def _exits(self, x: int) -> list[int]:
        """Nets the completion may carry device ``x``'s free pins to: dangling nets, a port that helps
        the requirement most, a port free of bulk-only devices."""
        nets = self._dev[x][2]
        out = [n for n in self._deficient if n not in nets]
        best = _best_absent(self._req, frozenset(self._present), frozenset(self._cond))
        if best is not None:
            out.append(best)
        for p in self._present:
            if p not in nets and not self._nbad.get(p, 0):
                out.append(p)
                break
        return out

    def _c_dev(self, x: int, limit: int) -> int:
        """Cost of the completion from device ``x``: close it now (onto the best exit), or leave by an
        edge it already has when it is closed."""
        if self._done():
            return 1
        g = self._g
        f, asg, nets = self._dev[x]
        r = g.full[f] & ~asg
        if not r:
            return 2 + min(self._c_net(w) for w in nets)
        part = self._t.split[f].get(r, r)
        e = g.edge_of[f][part]
        best = INF
        mark = len(self._log)
        self._apply(e)
        for z in self._exits(x):
            mark2 = len(self._log)
            self._apply(z)
            c = 2 + self._c_net(z)
            self._undo(mark2)
            if c < best:
                best = c
                if c <= limit:
                    break
        self._undo(mark)
        return best

    def _cost(self, limit: int) -> int:
        """Tokens a concrete completion of this state takes (``<eos>`` included); with ``limit``, the
        first option found within it may be returned instead of the least."""
        ph = self._phase
        if ph == _DONE:
            return 0
        if ph == _NODE:
            return self._c_dev(self._cur, limit) if self._cur in self._dev else self._c_net(self._cur)
        g = self._g
        if ph == _TO_NET:
            x = self._cur
            nets = self._dev[x][2]
            for w, m in nets.items():
                if m == self._emask:
                    return 1 + self._c_net(w)
            cands = self._exits(x)
        elif ph == _TO_DEV:
            y, e = self._cur, self._edge
            cands = [d for d, (f, _, nets) in self._dev.items() if nets.get(y) == g.emask[f].get(e, -1)]
            for d, (f, asg, nets) in self._dev.items():
                m = g.emask[f].get(e)
                if m is not None and y not in nets and m & asg == 0 and not self._t.illegal[f][m]:
                    cands.append(d)
            for f, _ in self._t.takers[e]:
                if self._free[f]:
                    ids = g.dev_ids[f]
                    cands.append(int(ids[np.argmin(self._used[ids])]))
        else:
            cands = [int(g.internal_ids[0])]
            cands += [int(p) for p in g.port_ids]
        best = INF
        for t in cands:
            c = 1 + self._try(t, max(limit - 1, 0))
            if c < best:
                best = c
                if c <= limit:
                    break
        return best


@lru_cache(maxsize=1 << 16)
def _visits(req: _Req, present: frozenset[int], cond: frozenset[int]) -> tuple[int, int]:
    """Fewest absent ports to add (each on a conducting terminal) so that ``req`` holds, and the
    fewest absent candidates left for a conducting need not met yet (large when none is unmet).

    Only absent ports are counted as visits, so the completion always lands on a port with nothing
    on it yet; a present port that touches only control terminals is not relied on to conduct later.
    """
    deficits = []
    margin = INF
    for ids, minimum, conducting in req.needs:
        have = len(ids & (cond if conducting else present))
        deficits.append(max(0, minimum - have))
        if conducting and have < minimum:
            margin = min(margin, len(ids - present))
    groups: dict[int, int] = {}
    for p, s in req.sig.items():
        if p not in present:
            groups[s] = groups.get(s, 0) + 1
    pdef = max(0, req.min_ports - len(present))
    return _cover(tuple(sorted(groups.items())), tuple(deficits), pdef), margin


@lru_cache(maxsize=1 << 16)
def _cover(groups: tuple[tuple[int, int], ...], deficits: tuple[int, ...], pdef: int) -> int:
    """Fewest picks from ``groups`` ((need bit set, how many ports), ...) covering ``deficits`` and ``pdef``."""
    if pdef == 0 and not any(deficits):
        return 0
    if not groups:
        return INF
    (sig, count), rest = groups[0], groups[1:]
    useful = max([pdef] + [d for i, d in enumerate(deficits) if sig >> i & 1])
    best = INF
    for c in range(min(count, useful) + 1):
        left = tuple(max(0, d - c) if sig >> i & 1 else d for i, d in enumerate(deficits))
        sub = _cover(rest, left, max(0, pdef - c))
        if c + sub < best:
            best = c + sub
    return best


@lru_cache(maxsize=1 << 16)
def _best_absent(req: _Req, present: frozenset[int], cond: frozenset[int]) -> int | None:
    """An absent port whose visit helps ``req`` most (None when every port is present)."""
    best, best_m = None, INF
    seen: set[int] = set()
    for p, s in sorted(req.sig.items()):
        if p in present or s in seen:
            continue
        seen.add(s)
        m, _ = _visits(req, present | {p}, cond | {p})
        if m < best_m:
            best, best_m = p, m
    return best
