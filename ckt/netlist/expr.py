"""Safe evaluation of SPICE parameter expressions: ``2*wp1``, ``{sqrt(w/l) > 3 ? 1u : 2u}``.

This module owns the expression language. User text is tokenized and parsed here (a Pratt parser)
into a tree of Python closures; nothing is handed to ``eval``. Sizing evaluates the same handful of
expressions thousands of times, so compilation is cached and evaluation walks prebuilt closures.

Nesting is bounded (``MAX_DEPTH``) so hostile or generated input fails with ``ExpressionError``
instead of a ``RecursionError``; runs of one left-associative operator (``a+b+c+...``) compile to a
single loop, so long flat sums do not count as nesting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import lru_cache

from ckt.errors import ExpressionError

MAX_DEPTH = 100
"""Deepest nesting of parentheses, unary operators, powers and ternaries one expression may use."""

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
"""Names that resolve to constants unless the scope defines them (a ``.param e=...`` wins)."""

_Fn = Callable[[Mapping[str, float], "Mapping[str, Callable[..., float]] | None"], float]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op>\*\*|&&|\|\||==|!=|<=|>=|[-+*/%^!<>?:(),{}])
    """,
    re.VERBOSE,
)


def _number(token: str) -> float | None:
    from ckt.netlist.units import parse_number  # the units module owns SPICE scale suffixes

    return parse_number(token, expression=True)  # ngspice's expression parser: {1mil} is 1m


# ---------------------------------------------------------------- functions


def _round_half_away(x: float) -> float:
    return float(math.floor(abs(x) + 0.5)) * (1.0 if x >= 0 else -1.0)


def _sgn(x: float) -> float:
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def _sign(x: float, y: float | None = None) -> float:
    # sign(x) is sgn; HSPICE's two-argument sign(x, y) is |x| carrying the sign of y.
    return _sgn(x) if y is None else (abs(x) if y >= 0 else -abs(x))


def _pwr(x: float, y: float) -> float:
    # ngspice pwr(): |x|^y with the sign of x, defined for every real x.
    return math.pow(abs(x), y) * _sgn(x) if x != 0 else math.pow(0.0, y)


def _db(x: float) -> float:
    return 20.0 * math.log10(abs(x))


def _nominal(nominal: float, *spread: float) -> float:
    # agauss/gauss/aunif/unif draw Monte-Carlo samples in a simulator; ckt evaluates decks at their
    # nominal point (PDK decks gate the random term with a switch such as MC_MM_SWITCH=0 anyway).
    return nominal


def _limit(x: float, lo: float, hi: float) -> float:
    lo, hi = min(lo, hi), max(lo, hi)
    return min(max(x, lo), hi)


BUILTINS: dict[str, tuple[Callable[..., float], int, int]] = {
    # name: (function, min args, max args)
    "sqrt": (math.sqrt, 1, 1),
    "exp": (math.exp, 1, 1),
    "log": (math.log, 1, 1),  # natural log, as in ngspice and HSPICE
    "ln": (math.log, 1, 1),
    "log10": (math.log10, 1, 1),
    "pow": (math.pow, 2, 2),
    "pwr": (_pwr, 2, 2),
    "abs": (abs, 1, 1),
    "min": (min, 1, 64),
    "max": (max, 1, 64),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "asin": (math.asin, 1, 1),
    "acos": (math.acos, 1, 1),
    "atan": (math.atan, 1, 1),
    "atan2": (math.atan2, 2, 2),
    "sinh": (math.sinh, 1, 1),
    "cosh": (math.cosh, 1, 1),
    "tanh": (math.tanh, 1, 1),
    "asinh": (math.asinh, 1, 1),
    "acosh": (math.acosh, 1, 1),
    "atanh": (math.atanh, 1, 1),
    "floor": (lambda x: float(math.floor(x)), 1, 1),
    "ceil": (lambda x: float(math.ceil(x)), 1, 1),
    "int": (lambda x: float(math.trunc(x)), 1, 1),
    "nint": (_round_half_away, 1, 1),
    "round": (_round_half_away, 1, 1),
    "sgn": (_sgn, 1, 1),
    "sign": (_sign, 1, 2),
    "limit": (_limit, 3, 3),
    "db": (_db, 1, 1),
    "hypot": (math.hypot, 2, 2),
    "agauss": (_nominal, 2, 4),
    "gauss": (_nominal, 2, 4),
    "aunif": (_nominal, 2, 3),
    "unif": (_nominal, 2, 3),
}
"""Built-in functions (lower-case). ``if(c, a, b)`` and ``ternary_fcn`` are lazy and handled by the
parser, so ``if(x > 0, 1/x, 0)`` never divides by zero."""

_LAZY_IF = frozenset({"if", "ternary_fcn"})


def _div(a: float, b: float) -> float:
    return a / b


def _mod(a: float, b: float) -> float:
    return math.fmod(a, b) if b != 0 else a / b  # a/b raises ZeroDivisionError


def _pow(a: float, b: float) -> float:
    return math.pow(a, b)  # never complex, unlike float ** float


_OR_BP, _AND_BP = 20, 30  # short-circuit levels, compiled specially
_BINARY: dict[str, tuple[int, Callable[[float, float], float]]] = {
    # op: (binding power, function); higher binds tighter
    "||": (_OR_BP, lambda a, b: 1.0 if (a or b) else 0.0),
    "&&": (_AND_BP, lambda a, b: 1.0 if (a and b) else 0.0),
    "==": (40, lambda a, b: 1.0 if a == b else 0.0),
    "!=": (40, lambda a, b: 1.0 if a != b else 0.0),
    "<": (50, lambda a, b: 1.0 if a < b else 0.0),
    "<=": (50, lambda a, b: 1.0 if a <= b else 0.0),
    ">": (50, lambda a, b: 1.0 if a > b else 0.0),
    ">=": (50, lambda a, b: 1.0 if a >= b else 0.0),
    "+": (60, lambda a, b: a + b),
    "-": (60, lambda a, b: a - b),
    "*": (70, lambda a, b: a * b),
    "/": (70, _div),
    "%": (70, _mod),
    "^": (90, _pow),
    "**": (90, _pow),
}
_TERNARY_BP = 10
_UNARY_BP = 80  # below power: -2^2 == -4, and 2^-1 == 0.5
_RIGHT_ASSOC = frozenset({"^", "**"})
_MATH_ERRORS = (ZeroDivisionError, ValueError, OverflowError)


def _explain(exc: Exception) -> str:
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, OverflowError):
        return "numeric overflow"
    return "math domain error"


# ---------------------------------------------------------------- compiled form


class Compiled:
    """A parsed expression, ready to evaluate in many scopes.

    Attributes:
        text: the expression as parsed (SPICE quotes removed), which error columns refer to.
        names: free identifiers (lower-case), including ``pi``/``e`` when used, since a scope
            may shadow them.
    """

    __slots__ = ("text", "names", "_fn", "_first_col")

    def __init__(self, text: str, fn: _Fn, first_col: dict[str, int]) -> None:
        self.text = text
        self.names: frozenset[str] = frozenset(first_col)
        self._fn = fn
        self._first_col = first_col

    def __repr__(self) -> str:
        return f"Compiled({self.text!r})"

    def evaluate(
        self,
        scope: Mapping[str, float] = {},  # noqa: B006 - read only
        functions: Mapping[str, Callable[..., float]] | None = None,
    ) -> float:
        """The value in ``scope`` (names looked up case-insensitively).

        Raises:
            ExpressionError: an undefined name or function, a math error (division by zero...), or
                a result that is not finite (``1e308*1e308``): no simulator can use it.
        """
        env = scope
        for name in self.names:
            if name not in scope:
                env = self._complete(scope)
                break
        if functions:
            clash = BUILTINS.keys() & {k.lower() for k in functions}
            if clash:
                raise ExpressionError(f"caller functions may not replace built-ins: {', '.join(sorted(clash))}")
            functions = {k.lower(): v for k, v in functions.items()}
        value = float(self._fn(env, functions))
        if not math.isfinite(value):
            raise _error(f"the value is not finite ({value!r})", self.text, 1)
        return value

    def _complete(self, scope: Mapping[str, float]) -> dict[str, float]:
        """``scope`` plus lower-cased keys and constants; raises for the leftmost undefined name."""
        env = dict(scope)
        lowered = {k.lower(): v for k, v in scope.items()}
        missing = []
        for name in self.names:
            if name in env:
                continue
            if name in lowered:
                env[name] = lowered[name]
            elif name in CONSTANTS:
                env[name] = CONSTANTS[name]
            else:
                missing.append(name)
        if missing:
            name = min(missing, key=self._first_col.__getitem__)
            raise _error(f"undefined parameter {name!r}", self.text, self._first_col[name])
        return env


def _error(message: str, text: str, col: int) -> ExpressionError:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return ExpressionError(f"{message} in {shown!r} at column {col}")


# ---------------------------------------------------------------- parser


class _Parser:
    """Pratt parser turning tokens straight into closures ``fn(scope, functions) -> float``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.depth = 0
        self.first_col: dict[str, int] = {}

    def _tokenize(self, text: str) -> list[tuple[str, str, int]]:
        tokens: list[tuple[str, str, int]] = []
        pos, n = 0, len(text)
        while pos < n:
            m = _TOKEN.match(text, pos)
            if m is None:
                raise _error(f"unexpected character {text[pos]!r}", text, pos + 1)
            kind = m.lastgroup
            assert kind is not None  # every alternative of _TOKEN is a named group
            if kind != "ws":
                tokens.append((kind, m.group(), pos + 1))
            pos = m.end()
        tokens.append(("end", "", n + 1))
        return tokens

    def fail(self, message: str, col: int | None = None) -> ExpressionError:
        return _error(message, self.text, self.tokens[self.pos][2] if col is None else col)

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.pos]

    def advance(self) -> tuple[str, str, int]:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, value: str) -> None:
        kind, text, _ = self.peek()
        if text != value or kind != "op":
            found = "end of expression" if kind == "end" else repr(text)
            raise self.fail(f"expected {value!r}, found {found}")
        self.pos += 1

    def parse(self) -> _Fn:
        if self.peek()[0] == "end":
            raise self.fail("empty expression")
        fn = self.expression(0)
        kind, text, _ = self.peek()
        if kind != "end":
            raise self.fail(f"unexpected {text!r}")
        return fn

    def expression(self, min_bp: int) -> _Fn:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
        lhs = self.prefix()
        while True:
            kind, op, col = self.peek()
            if kind != "op":
                break
            if op == "?":
                if _TERNARY_BP < min_bp:
                    break
                self.pos += 1
                yes = self.expression(0)
                self.expect(":")
                no = self.expression(_TERNARY_BP)  # right-associative
                lhs = _ternary(lhs, yes, no)
                continue
            entry = _BINARY.get(op)
            if entry is None or entry[0] < min_bp or (entry[0] == min_bp and op not in _RIGHT_ASSOC):
                break
            bp = entry[0]
            if op in _RIGHT_ASSOC:
                self.pos += 1
                rhs = self.expression(bp)
                lhs = _binary(lhs, [(entry[1], rhs, col)], self.text)
                continue
            # a run of left-associative operators of one binding power becomes one loop
            chain: list[tuple[Callable[[float, float], float], _Fn, int]] = []
            while True:
                kind, op, col = self.peek()
                entry = _BINARY.get(op) if kind == "op" else None
                if entry is None or entry[0] != bp:
                    break
                self.pos += 1
                chain.append((entry[1], self.expression(bp + 1), col))
            lhs = _logical(lhs, chain, bp) if bp in (_OR_BP, _AND_BP) else _binary(lhs, chain, self.text)
        self.depth -= 1
        return lhs

    def prefix(self) -> _Fn:
        kind, text, col = self.advance()
        if kind == "num":
            value = _number(text)
            if value is None:
                raise _error(f"bad number {text!r}", self.text, col)
            if not math.isfinite(value):
                raise _error(f"number {text[:40]!r} is out of range (not a finite float)", self.text, col)
            return lambda s, f: value
        if kind == "name":
            name = text.lower()
            if self.peek()[1] == "(" and self.peek()[0] == "op":
                return self.call(name, col)
            self.first_col.setdefault(name, col)
            return lambda s, f: s[name]
        if kind == "op" and text in ("(", "{"):
            inner = self.expression(0)
            self.expect(")" if text == "(" else "}")
            return inner
        if kind == "op" and text in ("-", "+", "!"):
            operand = self.expression(_UNARY_BP)
            if text == "-":
                return lambda s, f: -operand(s, f)
            if text == "!":
                return lambda s, f: 0.0 if operand(s, f) else 1.0
            return operand
        self.pos -= 1
        raise self.fail("unexpected end of expression" if kind == "end" else f"unexpected {text!r}")

    def call(self, name: str, col: int) -> _Fn:
        self.expect("(")
        args: list[_Fn] = []
        if self.peek()[1] != ")":
            while True:
                args.append(self.expression(0))
                if self.peek()[1] != ",":
                    break
                self.pos += 1
        self.expect(")")
        text = self.text
        if name in _LAZY_IF:
            if len(args) != 3:
                raise _error(f"{name}() takes 3 arguments, got {len(args)}", text, col)
            return _ternary(*args)
        if name in BUILTINS:
            fn, lo, hi = BUILTINS[name]
            if not lo <= len(args) <= hi:
                want = str(lo) if lo == hi else f"{lo} to {hi}"
                raise _error(f"{name}() takes {want} argument(s), got {len(args)}", text, col)

            def builtin(s, f):
                values = [a(s, f) for a in args]
                try:
                    return fn(*values)
                except _MATH_ERRORS as exc:
                    raise _error(f"{_explain(exc)} in {name}()", text, col) from None

            return builtin

        def external(s, f):
            user = f.get(name) if f else None
            if user is None:
                raise _error(f"unknown function {name!r}", text, col)
            values = [a(s, f) for a in args]
            try:
                return float(user(*values))
            except (TypeError, *_MATH_ERRORS) as exc:
                raise _error(f"{name}() failed: {exc}", text, col) from None

        return external


def _ternary(cond: _Fn, yes: _Fn, no: _Fn) -> _Fn:
    return lambda s, f: yes(s, f) if cond(s, f) else no(s, f)


def _binary(lhs: _Fn, chain: list, text: str) -> _Fn:
    if len(chain) == 1:
        ((op, rhs, col),) = chain

        def one(s, f):
            try:
                return op(lhs(s, f), rhs(s, f))
            except _MATH_ERRORS as exc:
                raise _error(_explain(exc), text, col) from None

        return one

    def many(s, f):
        acc = lhs(s, f)
        for op, rhs, col in chain:
            try:
                acc = op(acc, rhs(s, f))
            except _MATH_ERRORS as exc:
                raise _error(_explain(exc), text, col) from None
        return acc

    return many


def _logical(lhs: _Fn, chain: list, bp: int) -> _Fn:
    operands = [lhs] + [rhs for _, rhs, _ in chain]
    if bp == _AND_BP:
        return lambda s, f: 1.0 if all(x(s, f) for x in operands) else 0.0
    return lambda s, f: 1.0 if any(x(s, f) for x in operands) else 0.0


# ---------------------------------------------------------------- public API


def _strip_quotes(text: str) -> str:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    return text


@lru_cache(maxsize=16384)
def compile_expr(text: str) -> Compiled:
    """Parse ``text`` once (cached); SPICE quoting ``'...'`` and braces ``{...}`` are accepted.

    Raises:
        ExpressionError: a syntax error, naming the column.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be text, got {type(text).__name__}")
    parser = _Parser(_strip_quotes(text))
    fn = parser.parse()
    return Compiled(parser.text, fn, parser.first_col)


def evaluate(
    text: str,
    scope: Mapping[str, float] = {},  # noqa: B006 - read only
    *,
    functions: Mapping[str, Callable[..., float]] | None = None,
) -> float:
    """Evaluate ``text`` with parameters from ``scope`` and optional extra ``functions``."""
    return compile_expr(text).evaluate(scope, functions)


def free_names(text: str) -> frozenset[str]:
    """Identifiers ``text`` reads (lower-case), excluding function names."""
    return compile_expr(text).names


def substitute(text: str, replacements: Mapping[str, str]) -> str:
    """``text`` with identifiers (not function names) replaced, keyed by lower-case name.

    Flattening uses this to inline subcircuit parameters into expressions that must stay symbolic.
    """
    parser = _Parser(_strip_quotes(text))
    parser.parse()  # reject malformed text before rewriting it
    out: list[str] = []
    src = parser.text
    last = 0
    toks = parser.tokens
    for i, (kind, tok, col) in enumerate(toks):
        if kind != "name":
            continue
        nxt = toks[i + 1]
        if nxt[0] == "op" and nxt[1] == "(":
            continue
        new = replacements.get(tok.lower())
        if new is not None:
            out.append(src[last : col - 1])
            out.append(new)
            last = col - 1 + len(tok)
    out.append(src[last:])
    return "".join(out)
