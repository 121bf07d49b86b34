"""Sizing specs: what to vary, what to measure, which targets to meet and what to optimise.

A spec is read from YAML (``load_spec``) into a frozen ``Spec``. The spec also owns scoring, so
that every method, the history replay and the report judge a design the same way: targets become
normalised violations (``0`` when met), and designs are ranked feasible-first, then by objective,
else by total violation (the SCBO ordering of Eriksson & Poloczek, 2021).

Violation of a target ``metric >= b`` is ``max(0, (b - v) / s)`` with ``s = |b|`` (``1`` when
``b = 0``), and the same for ``<=``, so a 10 % miss weighs the same on every metric whatever its unit.

A ``corners:`` block (``Corners``) asks that every target hold over process corners, temperatures and
supplies: the evaluator measures each design at every combination and scores its worst case.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import yaml

from ckt.errors import CktError, SpecError, UnknownNameError
from ckt.netlist.expr import CONSTANTS, compile_expr, free_names
from ckt.netlist.units import parse_number
from ckt.opt.space import Space, Variable

if TYPE_CHECKING:
    from ckt.sim.pvt import PVT

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")

TESTBENCH_KINDS = ("opamp",)

NOT_SPEC_FIELDS = frozenset({"netlist", "dut", "pdk", "models", "metric_names"})
"""``OpAmpTestbench`` fields the spec sets elsewhere (``dut`` is required in the block itself,
``pdk``/``models`` are top-level keys, the metrics follow from the targets)."""

STABILITY_METRIC = "stable"
"""The closed-loop stability flag (1.0/0.0) a ``pm_deg`` target implies."""

STABILITY_OPT_OUT = "unchecked_stability"
"""Spec key that drops the implied stability target (for a deck that cannot measure it)."""


T = TypeVar("T", float, np.ndarray)  # one value or a batch of samples


@dataclass(frozen=True, slots=True)
class Target:
    """A bound (or two) on one measured or derived value."""

    name: str
    lo: float | None = None
    hi: float | None = None
    implied_by: str | None = None

    def _scale(self, bound: float) -> float:
        if bound != 0:
            return abs(bound)
        other = [abs(b) for b in (self.lo, self.hi) if b]
        return max(other) if other else 1.0

    def violation(self, value: float | None, margin: float = 0.0) -> float:
        """Normalised shortfall: ``0`` when met with ``margin`` slack (a fraction of each bound),
        ``inf`` when the value is missing or not finite. Implied targets ignore the margin."""
        if value is None or not math.isfinite(value):
            return math.inf
        m = 0.0 if self.implied_by else margin
        v = 0.0
        if self.lo is not None:
            s = self._scale(self.lo)
            lo = self.lo + m * s
            if value < lo:
                v += (lo - value) / s
        if self.hi is not None:
            s = self._scale(self.hi)
            hi = self.hi - m * s
            if value > hi:
                v += (value - hi) / s
        return v

    def bounds(self, margin: float = 0.0) -> tuple[float | None, float | None]:
        """``(lo, hi)`` tightened by ``margin`` (what a feasible design must reach)."""
        m = 0.0 if self.implied_by else margin
        lo = None if self.lo is None else self.lo + m * self._scale(self.lo)
        hi = None if self.hi is None else self.hi - m * self._scale(self.hi)
        return lo, hi

    def margin(self, value: float | None) -> float:
        """Signed normalised slack to the nearest bound: positive when met (``-inf`` when missing)."""
        if value is None or not math.isfinite(value):
            return -math.inf
        slacks = []
        if self.lo is not None:
            slacks.append((value - self.lo) / self._scale(self.lo))
        if self.hi is not None:
            slacks.append((self.hi - value) / self._scale(self.hi))
        return min(slacks)

    def describe(self, margin: float = 0.0) -> str:
        lo, hi = self.bounds(margin)
        if lo is not None and hi is not None:
            return f"{lo:g} <= {self.name} <= {hi:g}"
        return f"{self.name} >= {lo:g}" if lo is not None else f"{self.name} <= {hi:g}"


@dataclass(frozen=True, slots=True)
class Objective:
    """The value to optimise once the targets are met."""

    name: str
    minimize: bool = True

    def to_min(self, value: T) -> T:
        """The value in the 'smaller is better' sense every method uses internally."""
        return value if self.minimize else -value


@dataclass(frozen=True, slots=True)
class TestbenchSpec:
    """A generated testbench: ``kind`` (``opamp``) around the subcircuit ``dut``."""

    kind: str
    dut: str
    ports: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, Any], ...] = ()

    def kwargs(self) -> dict[str, Any]:
        """The options as ``OpAmpTestbench`` keyword arguments (mapping fields back to dicts)."""
        return {k: dict(v) if _is_pairs(v) else v for k, v in self.options}


def _is_pairs(v: Any) -> bool:
    return isinstance(v, tuple) and bool(v) and all(isinstance(x, tuple) and len(x) == 2 for x in v)


@dataclass(frozen=True, slots=True)
class Corners:
    """The operating conditions every target must hold over: their full combination.

    Attributes:
        process: PDK corner names (empty: the PDK's default corner).
        temps: temperatures, Celsius (empty: the testbench's).
        vdds: supplies: volts, or with ``relative_vdd`` fractions of the nominal supply
            (``-0.1`` is 10 % low). Empty: the testbench's.
        relative_vdd: whether ``vdds`` are fractions of the nominal supply.
    """

    process: tuple[str, ...] = ()
    temps: tuple[float, ...] = ()
    vdds: tuple[float, ...] = ()
    relative_vdd: bool = False

    def points(self, nominal_vdd: float) -> list[PVT]:
        """Every combination as ``PVT`` points, relative supplies scaled from ``nominal_vdd`` (V)."""
        from ckt.sim.pvt import grid

        vdds = tuple(nominal_vdd * (1.0 + v) for v in self.vdds) if self.relative_vdd else self.vdds
        return grid(self.process or (None,), self.temps or (None,), vdds or (None,))

    @property
    def size(self) -> int:
        """How many conditions each design is simulated at."""
        return max(1, len(self.process)) * max(1, len(self.temps)) * max(1, len(self.vdds))


@dataclass(frozen=True, slots=True)
class Score:
    """How one evaluated design fares against a spec.

    Attributes:
        valid: the simulation succeeded and every value the spec needs is a finite number.
        feasible: valid and every target met.
        violation: sum of normalised violations (``inf`` when not valid).
        violations: per target name.
        objective: the objective in its own units (None without an objective or when missing).
    """

    valid: bool
    feasible: bool
    violation: float
    violations: tuple[tuple[str, float], ...]
    objective: float | None

    def rank_key(self, spec: Spec) -> tuple[float, float]:
        """Sort key, smaller is better: feasible designs by objective, then the rest by violation."""
        if self.feasible:
            if spec.objective is None or self.objective is None:
                return (0.0, 0.0)
            return (0.0, spec.objective.to_min(self.objective))
        return (1.0, self.violation)


@dataclass(frozen=True)
class Spec:
    """A whole sizing problem. Build one in code or with ``load_spec``.

    Attributes:
        variables: the design variables (``.param`` names).
        targets: bounds every feasible design meets. A ``pm_deg`` target implies ``stable >= 1``
            (closed-loop stable) unless ``unchecked_stability``; that target is added here.
        objective: optional; without one sizing stops at the first feasible design.
        derived: ``(name, expression)`` pairs computed from the measured values and the variables,
            in order.
        pdk: name of a bundled PDK, or None.
        models: model-card files to include instead of a PDK.
        testbench: a generated testbench, or None for a deck with its own analyses and ``.meas``.
        margin: slack every (explicit) target must be met with, as a fraction of its bound.
        unchecked_stability: do not imply the ``stable`` target from ``pm_deg``.
        trust_deck: the deck is trusted (passed to the evaluator; see the deck security policy).
        corners: conditions every target must hold over (worst case scored), or None for nominal only.
        source: the file the spec was read from (for messages).
    """

    variables: tuple[Variable, ...]
    targets: tuple[Target, ...]
    objective: Objective | None = None
    derived: tuple[tuple[str, str], ...] = ()
    pdk: str | None = None
    models: tuple[str, ...] = ()
    testbench: TestbenchSpec | None = None
    margin: float = 0.0
    unchecked_stability: bool = False
    trust_deck: bool = False
    corners: Corners | None = None
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        where = self.source or "<spec>"
        if not self.targets and self.objective is None:
            raise SpecError(f"{where}: needs targets, an objective, or both")
        if not (0.0 <= self.margin < 1.0):
            raise SpecError(f"{where}: margin must lie in [0, 1) (a fraction such as 0.05 or 5%), got {self.margin}")
        for t in self.targets:
            lo, hi = t.bounds(self.margin)
            if lo is not None and hi is not None and lo > hi:
                raise SpecError(f"{where}: targets.{t.name}: with margin {self.margin:g} the band "
                                f"[{t.lo:g}, {t.hi:g}] is empty")
        for name, text in self.derived:
            try:
                compile_expr(text)
            except CktError as exc:
                raise SpecError(f"{where}: derived.{name}: {exc}") from exc
        if self.corners is not None and self.testbench is None:
            raise SpecError(f"{where}: corners need a generated testbench (a testbench: block)")
        names = {t.name for t in self.targets}
        if "pm_deg" in names and STABILITY_METRIC not in names and not self.unchecked_stability:
            object.__setattr__(self, "targets",
                               self.targets + (Target(STABILITY_METRIC, lo=1.0, implied_by="pm_deg"),))

    @property
    def space(self) -> Space:
        return Space(self.variables)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every value the spec reads: target names then the objective (no duplicates)."""
        names = [t.name for t in self.targets]
        if self.objective is not None:
            names.append(self.objective.name)
        return tuple(dict.fromkeys(names))

    def check_names(self, provided: Collection[str], what: str) -> None:
        """Raise ``UnknownNameError`` unless every target, objective and derived input is provided.

        Args:
            provided: names the evaluator measures (``.meas`` names or testbench metrics).
            what: who provides them, for the message ("the deck's .meas lines", ...).
        """
        have = {n.lower() for n in provided} | {v.name.lower() for v in self.variables}
        missing: list[str] = []
        for name, text in self.derived:
            missing += [f"{n} (in derived.{name})" for n in sorted(free_names(text))
                        if n not in have and n not in CONSTANTS]
            have.add(name.lower())
        for name in self.metric_names:
            if name.lower() not in have:
                implied = next((t.implied_by for t in self.targets if t.name == name and t.implied_by), None)
                missing.append(f"{name} (implied by a {implied} target: a closed-loop stability check; measure "
                               f"'{name}' or set {STABILITY_OPT_OUT}: true)" if implied else name)
        if missing:
            raise UnknownNameError(self.source or "<spec>", missing, sorted(provided), what)

    def complete(self, values: Mapping[str, float], params: Mapping[str, float] | None = None) -> dict[str, float]:
        """``values`` plus the derived values; a derived value that cannot be computed is left out
        (its target then counts as missing, so the design is not valid) rather than raising.
        Derived expressions also read the design's variables (``params``), so area can be derived."""
        out = dict(values)
        scope = {k.lower(): float(v) for k, v in (params or {}).items()}
        for name, text in self.derived:
            out.pop(name, None)
            try:
                v = compile_expr(text).evaluate({**scope, **out})
            except CktError:
                continue
            if math.isfinite(v):
                out[name] = v
        return out

    def score(self, values: Mapping[str, float] | None, params: Mapping[str, float] | None = None) -> Score:
        """Score an evaluated design (``values`` None for a failed simulation)."""
        if values is None:
            return Score(False, False, math.inf, tuple((t.name, math.inf) for t in self.targets), None)
        v = self.complete(values, params)
        viol = tuple((t.name, t.violation(v.get(t.name), self.margin)) for t in self.targets)
        obj = None
        if self.objective is not None:
            o = v.get(self.objective.name)
            obj = float(o) if o is not None and math.isfinite(o) else None
        valid = all(math.isfinite(x) for _, x in viol) and (self.objective is None or obj is not None)
        total = sum(x for _, x in viol) if valid else math.inf
        return Score(valid, valid and total == 0.0, total, viol, obj)

    def digest(self) -> str:
        """A short hash of everything that changes what the run optimises (not the file path)."""
        blob = json.dumps(
            {
                "variables": [[v.name, v.lo, v.hi, v.step, v.log] for v in self.variables],
                "targets": [[t.name, t.lo, t.hi] for t in self.targets],
                "objective": None if self.objective is None else [self.objective.name, self.objective.minimize],
                "derived": list(self.derived),
                "pdk": self.pdk,
                "models": list(self.models),
                "testbench": None if self.testbench is None else repr(self.testbench),
                "margin": self.margin,
                "trust_deck": self.trust_deck,
                **({} if self.corners is None else {"corners": repr(self.corners)}),
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- reading YAML


class _Reader:
    """Walks the YAML node tree so every error can name the file, the key path and the line."""

    def __init__(self, path: str, lines: dict[tuple[str, ...], int]) -> None:
        self.path = path
        self.lines = lines

    def fail(self, key: tuple[str, ...], message: str) -> SpecError:
        line = self.lines.get(key)
        where = f"{self.path}:{line}" if line is not None else self.path
        dotted = ".".join(key) or "(top level)"
        return SpecError(f"{where}: {dotted}: {message}")

    def mapping(self, node: Any, key: tuple[str, ...], allowed: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(node, dict):
            raise self.fail(key, f"expected a mapping, got {_kind(node)}")
        for k in node:
            if not isinstance(k, str):
                raise self.fail(key, f"keys must be text, got {k!r}")
            if allowed is not None and k not in allowed:
                raise self.fail(key + (k,), f"unknown key (expected one of: {', '.join(sorted(allowed))})")
        return node

    def number(self, node: Any, key: tuple[str, ...]) -> float:
        if isinstance(node, bool):
            raise self.fail(key, f"expected a number, got {node!r}")
        if isinstance(node, (int, float)):
            value = float(node)
        elif isinstance(node, str) and parse_number(node) is not None:
            value = float(parse_number(node))  # type: ignore[arg-type]
        else:
            raise self.fail(key, f"expected a number (SPICE suffixes like 10p allowed), got {node!r}")
        if not math.isfinite(value):
            raise self.fail(key, f"expected a finite number, got {node!r}")
        return value

    def flag(self, node: Any, key: tuple[str, ...]) -> bool:
        if not isinstance(node, bool):
            raise self.fail(key, f"expected true or false, got {node!r}")
        return node

    def name(self, node: Any, key: tuple[str, ...]) -> str:
        if not isinstance(node, str) or not _NAME.match(node):
            raise self.fail(key, f"expected a name (letters, digits, _ and .), got {node!r}")
        return node


def _kind(node: Any) -> str:
    if node is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(type(node), type(node).__name__)


def _key_lines(node: yaml.Node, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = prefix + (str(k.value),)
            out[key] = k.start_mark.line + 1
            _key_lines(v, key, out)


def parse_spec(text: str, source: str = "<spec>") -> Spec:
    """Parse spec YAML text; ``source`` names the file in errors."""
    lines: dict[tuple[str, ...], int] = {}
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise SpecError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from exc
    if root is not None:
        _key_lines(root, (), lines)
    r = _Reader(source, lines)
    top = r.mapping(data, (), {"pdk", "models", "testbench", "variables", "derived", "targets", "objective",
                               "margin", STABILITY_OPT_OUT, "trust_deck", "corners"})

    pdk = top.get("pdk")
    if pdk is not None and not isinstance(pdk, str):
        raise r.fail(("pdk",), f"expected a PDK name, got {pdk!r}")
    models_node = top.get("models", [])
    if isinstance(models_node, str):
        models_node = [models_node]
    if not isinstance(models_node, list) or not all(isinstance(m, str) for m in models_node):
        raise r.fail(("models",), "expected a list of model-file paths")
    if pdk is not None and models_node:
        raise r.fail(("models",), "give either pdk or models, not both")
    base = Path(source).parent if source != "<spec>" else Path(".")
    models = tuple(str(base / m) if not Path(m).is_absolute() else m for m in models_node)

    variables = []
    vars_node = r.mapping(top.get("variables"), ("variables",))
    if not vars_node:
        raise r.fail(("variables",), "expected at least one variable")
    for name, body in vars_node.items():
        key = ("variables", name)
        r.name(name, key)
        body = r.mapping(body, key, {"min", "max", "step", "scale"})
        for req in ("min", "max"):
            if req not in body:
                raise r.fail(key, f"missing {req}")
        scale = body.get("scale", "linear")
        if scale not in ("linear", "log"):
            raise r.fail(key + ("scale",), f"expected linear or log, got {scale!r}")
        step = r.number(body["step"], key + ("step",)) if "step" in body else None
        try:
            variables.append(Variable(name, r.number(body["min"], key + ("min",)),
                                      r.number(body["max"], key + ("max",)), step, scale == "log"))
        except SpecError as exc:
            raise r.fail(key, str(exc).split(": ", 1)[-1]) from None

    derived = []
    for name, expr in r.mapping(top.get("derived", {}) or {}, ("derived",)).items():
        r.name(name, ("derived", name))
        if not isinstance(expr, (str, int, float)) or isinstance(expr, bool):
            raise r.fail(("derived", name), f"expected an expression, got {_kind(expr)}")
        try:
            compile_expr(str(expr))
        except CktError as exc:
            raise r.fail(("derived", name), str(exc)) from None
        derived.append((name, str(expr)))

    targets = []
    for name, body in r.mapping(top.get("targets", {}) or {}, ("targets",)).items():
        key = ("targets", name)
        r.name(name, key)
        body = r.mapping(body, key, {"min", "max"})
        if not body:
            raise r.fail(key, "expected min, max or both")
        lo = r.number(body["min"], key + ("min",)) if "min" in body else None
        hi = r.number(body["max"], key + ("max",)) if "max" in body else None
        if lo is not None and hi is not None and lo > hi:
            raise r.fail(key, f"min {lo:g} is above max {hi:g}")
        targets.append(Target(name, lo, hi))

    objective = None
    if top.get("objective") is not None:
        body = r.mapping(top["objective"], ("objective",), {"minimize", "maximize"})
        if len(body) != 1:
            raise r.fail(("objective",), "expected exactly one of minimize: NAME or maximize: NAME")
        (sense, name), = body.items()
        objective = Objective(r.name(name, ("objective", sense)), sense == "minimize")

    testbench = None
    if top.get("testbench") is not None:
        testbench = _testbench(r, top["testbench"])

    if not targets and objective is None:
        raise r.fail((), "needs targets, an objective, or both")
    corners = None
    if top.get("corners") is not None:
        if testbench is None:
            raise r.fail(("corners",), "corners need a generated testbench (a testbench: block)")
        corners = _corners(r, top["corners"], pdk)
    margin = _margin(r, top["margin"]) if top.get("margin") is not None else 0.0
    flags = {k: r.flag(top.get(k, False), (k,)) for k in (STABILITY_OPT_OUT, "trust_deck")}
    try:
        return Spec(tuple(variables), tuple(targets), objective, tuple(derived), pdk, models, testbench, margin,
                    flags[STABILITY_OPT_OUT], flags["trust_deck"], corners, source)
    except SpecError as exc:
        raise r.fail(("margin",), str(exc).split(": ", 1)[-1]) from None


def _margin(r: _Reader, node: Any) -> float:
    """``5%`` or ``0.05``: the slack every target needs, as a fraction of its bound."""
    if isinstance(node, str) and node.strip().endswith("%"):
        try:
            value = float(node.strip()[:-1]) / 100.0
        except ValueError:
            raise r.fail(("margin",), "expected a percentage such as 5% or a fraction such as 0.05, "
                         f"got {node!r}") from None
    else:
        value = r.number(node, ("margin",))
    if not 0.0 <= value < 1.0:
        raise r.fail(("margin",), f"expected a fraction in [0, 1) (5% or 0.05), got {node!r}")
    return value


def _corners(r: _Reader, node: Any, pdk: str | None) -> Corners:
    """The ``corners:`` block: ``process`` names the PDK knows, ``temp`` in Celsius, ``vdd`` in volts
    or all as percentages of the nominal supply (``-10%``)."""
    key = ("corners",)
    body = r.mapping(node, key, {"process", "temp", "vdd"})
    if not body:
        raise r.fail(key, "expected at least one of process, temp, vdd")

    def items(name: str) -> list[Any]:
        value = body.get(name)
        if value is None:
            return []
        value = value if isinstance(value, list) else [value]
        if not value:
            raise r.fail(key + (name,), "expected at least one value")
        return value

    process = []
    for c in items("process"):
        if not isinstance(c, str):
            raise r.fail(key + ("process",), f"expected corner names, got {c!r}")
        process.append(c)
    if process:
        from ckt.errors import PdkError
        from ckt.pdk.registry import get_pdk

        if pdk is None:
            raise r.fail(key + ("process",), "process corners need a PDK (pdk: NAME)")
        try:
            known = tuple(get_pdk(pdk, check_files=False).corners)
        except PdkError as exc:
            raise r.fail(("pdk",), str(exc)) from None
        if not known:
            raise r.fail(key + ("process",), f"PDK {pdk} has no process corners (its models have one, unnamed)")
        unknown = [c for c in process if c not in known]
        if unknown:
            raise r.fail(key + ("process",), f"PDK {pdk} has no corner {', '.join(map(repr, unknown))} "
                         f"(known: {', '.join(known)})")
    temps = tuple(r.number(t, key + ("temp",)) for t in items("temp"))
    if any(t < -273.15 for t in temps):
        raise r.fail(key + ("temp",), "temperatures are in Celsius and cannot lie below -273.15")
    raw = items("vdd")
    relative = [isinstance(v, str) and v.strip().endswith("%") for v in raw]
    if any(relative) and not all(relative):
        raise r.fail(key + ("vdd",), "give every supply in volts or every one as a percentage (-10%), not both")
    if all(relative) and raw:
        vdds = []
        for v in raw:
            try:
                vdds.append(float(v.strip()[:-1]) / 100.0)
            except ValueError:
                raise r.fail(key + ("vdd",), f"expected a percentage such as -10%, got {v!r}") from None
        if any(v <= -1.0 for v in vdds):
            raise r.fail(key + ("vdd",), "a relative supply must stay above -100%")
    else:
        vdds = [r.number(v, key + ("vdd",)) for v in raw]
        if any(v <= 0 for v in vdds):
            raise r.fail(key + ("vdd",), "supplies must be positive volts")
    for name, values in (("process", process), ("temp", temps), ("vdd", vdds)):
        if len(set(values)) != len(values):
            raise r.fail(key + (name,), f"repeated value in {list(values)}")
    return Corners(tuple(process), temps, tuple(vdds), bool(raw) and all(relative))


def tb_fields() -> dict[str, str]:
    """``OpAmpTestbench`` option name -> its annotated type, read from the dataclass itself so a
    new testbench field is settable from the spec without touching this module."""
    from ckt.sim.testbench.opamp import OpAmpTestbench

    return {f.name: str(f.type) for f in dataclasses.fields(OpAmpTestbench)
            if f.name not in NOT_SPEC_FIELDS and f.name != "ports"}


def _option(r: _Reader, node: Any, key: tuple[str, ...], kind: str) -> Any:
    """One testbench option converted by its field type (numbers take SPICE suffixes)."""
    if node is None and "None" in kind:
        return None
    base = kind.replace(" | None", "").strip()
    if base.startswith("Mapping"):
        body = r.mapping(node, key)
        numeric = base.endswith("float]")
        return tuple((k, r.number(v, key + (k,)) if numeric else str(v)) for k, v in body.items())
    if base.startswith("tuple[float"):
        if not isinstance(node, list) or len(node) != base.count("float"):
            raise r.fail(key, f"expected a list of {base.count('float')} numbers, got {node!r}")
        return tuple(r.number(x, key) for x in node)
    if base == "int":
        value = r.number(node, key)
        if value != int(value):
            raise r.fail(key, f"expected a whole number, got {node!r}")
        return int(value)
    if base == "bool":
        return r.flag(node, key)
    if base.startswith("float"):
        return r.number(node, key)
    if not isinstance(node, (str, int, float)) or isinstance(node, bool):
        raise r.fail(key, f"expected text, got {_kind(node)}")
    return str(node)


def _testbench(r: _Reader, node: Any) -> TestbenchSpec:
    key = ("testbench",)
    fields = tb_fields()
    body = r.mapping(node, key)
    unknown = [k for k in body if k not in fields and k not in ("kind", "dut", "ports")]
    if unknown:
        valid = ", ".join(["kind", "dut", "ports", *sorted(fields)])
        raise r.fail(key + (unknown[0],), f"unknown testbench option(s) {', '.join(unknown)} (valid: {valid})")
    for req in ("kind", "dut"):
        if req not in body:
            raise r.fail(key, f"missing {req}")
    kind = body["kind"]
    if kind not in TESTBENCH_KINDS:
        raise r.fail(key + ("kind",), f"expected one of {', '.join(TESTBENCH_KINDS)}, got {kind!r}")
    dut = r.name(body["dut"], key + ("dut",))
    ports_node = r.mapping(body.get("ports", {}) or {}, key + ("ports",))
    ports = []
    for role, net in ports_node.items():
        if not isinstance(net, (str, int)) or isinstance(net, bool):
            raise r.fail(key + ("ports", role), f"expected a net name, got {net!r}")
        ports.append((role, str(net)))
    options = tuple((k, _option(r, v, key + (k,), fields[k])) for k, v in body.items() if k in fields)
    return TestbenchSpec(kind, dut, tuple(ports), options)


def load_spec(path: str | Path) -> Spec:
    """Read a spec file; every problem is a ``SpecError`` naming the file, line and key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{p}: no such spec file") from None
    except (OSError, UnicodeError) as exc:
        raise SpecError(f"{p}: cannot be read ({exc})") from None
    return parse_spec(text, str(p))
