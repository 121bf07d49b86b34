"""Sizing specs: what to vary, what to measure, which targets to meet and what to optimise.

A spec is read from YAML (``load_spec``) into a frozen ``Spec``. The spec also owns scoring, so
that every method, the history replay and the report judge a design the same way: targets become
normalised violations (``0`` when met), and designs are ranked feasible-first, then by objective,
else by total violation (the SCBO ordering of Eriksson & Poloczek, 2021).

Violation of a target ``metric >= b`` is ``max(0, (b - v) / s)`` with ``s = |b|`` (``1`` when
``b = 0``), and the same for ``<=``, so a 10 % miss weighs the same on every metric whatever its unit.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ckt.errors import CktError, SpecError
from ckt.netlist.expr import compile_expr
from ckt.netlist.units import parse_number
from ckt.opt.space import Space, Variable

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")

TESTBENCH_KEYS = {"kind": "str", "dut": "str", "ports": "map", "vdd": "num", "vcm": "num", "cload": "num",
                  "rload": "num", "temp": "num"}
"""Keys a ``testbench:`` block may hold, with their type; ``kind`` and ``dut`` are required."""

TESTBENCH_KINDS = ("opamp",)


@dataclass(frozen=True, slots=True)
class Target:
    """A bound (or two) on one measured or derived value."""

    name: str
    lo: float | None = None
    hi: float | None = None

    def _scale(self, bound: float) -> float:
        if bound != 0:
            return abs(bound)
        other = [abs(b) for b in (self.lo, self.hi) if b]
        return max(other) if other else 1.0

    def violation(self, value: float | None) -> float:
        """Normalised shortfall: ``0`` when met, ``inf`` when the value is missing or not finite."""
        if value is None or not math.isfinite(value):
            return math.inf
        v = 0.0
        if self.lo is not None and value < self.lo:
            v += (self.lo - value) / self._scale(self.lo)
        if self.hi is not None and value > self.hi:
            v += (value - self.hi) / self._scale(self.hi)
        return v

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

    def describe(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"{self.lo:g} <= {self.name} <= {self.hi:g}"
        return f"{self.name} >= {self.lo:g}" if self.lo is not None else f"{self.name} <= {self.hi:g}"


@dataclass(frozen=True, slots=True)
class Objective:
    """The value to optimise once the targets are met."""

    name: str
    minimize: bool = True

    def to_min(self, value: float) -> float:
        """The value in the 'smaller is better' sense every method uses internally."""
        return value if self.minimize else -value


@dataclass(frozen=True, slots=True)
class TestbenchSpec:
    """A generated testbench: ``kind`` (``opamp``) around the subcircuit ``dut``."""

    kind: str
    dut: str
    ports: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, float], ...] = ()


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

    def rank_key(self, spec: "Spec") -> tuple[float, float]:
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
        targets: bounds every feasible design meets.
        objective: optional; without one sizing stops at the first feasible design.
        derived: ``(name, expression)`` pairs computed from the measured values, in order.
        pdk: name of a bundled PDK, or None.
        models: model-card files to include instead of a PDK.
        testbench: a generated testbench, or None for a deck with its own analyses and ``.meas``.
        source: the file the spec was read from (for messages).
    """

    variables: tuple[Variable, ...]
    targets: tuple[Target, ...]
    objective: Objective | None = None
    derived: tuple[tuple[str, str], ...] = ()
    pdk: str | None = None
    models: tuple[str, ...] = ()
    testbench: TestbenchSpec | None = None
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.targets and self.objective is None:
            raise SpecError(f"{self.source or '<spec>'}: needs targets, an objective, or both")
        for name, text in self.derived:
            try:
                compile_expr(text)
            except CktError as exc:
                raise SpecError(f"{self.source or '<spec>'}: derived.{name}: {exc}") from exc

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

    def complete(self, values: Mapping[str, float]) -> dict[str, float]:
        """``values`` plus the derived values; a derived value that cannot be computed is left out
        (its target then counts as missing, so the design is not valid) rather than raising."""
        out = dict(values)
        for name, text in self.derived:
            out.pop(name, None)
            try:
                v = compile_expr(text).evaluate(out)
            except CktError:
                continue
            if math.isfinite(v):
                out[name] = v
        return out

    def score(self, values: Mapping[str, float] | None) -> Score:
        """Score an evaluated design (``values`` None for a failed simulation)."""
        if values is None:
            return Score(False, False, math.inf, tuple((t.name, math.inf) for t in self.targets), None)
        v = self.complete(values)
        viol = tuple((t.name, t.violation(v.get(t.name))) for t in self.targets)
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
    top = r.mapping(data, (), {"pdk", "models", "testbench", "variables", "derived", "targets", "objective"})

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
    return Spec(tuple(variables), tuple(targets), objective, tuple(derived), pdk, models, testbench, source)


def _testbench(r: _Reader, node: Any) -> TestbenchSpec:
    key = ("testbench",)
    body = r.mapping(node, key, set(TESTBENCH_KEYS))
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
    options = tuple((k, r.number(v, key + (k,))) for k, v in body.items() if TESTBENCH_KEYS[k] == "num")
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
