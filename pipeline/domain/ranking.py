"""Rankings: the score that orders a ranked feed page, from what was read and nothing else.

A ranking is a Python function of RankingInputs, or an expression for those
who configure rather than code (the HTTP API's users, an app's settings):

    decay_exp(age, 86400) * (1 + log1p(reactions.like) + 2 * log1p(reactions.comment))
    + 0.5 * affinity + fields.boost

Names an expression may use: `age` (seconds the activity is older than the
newest candidate), `reactions.<kind>` (the activity's count of that kind),
`affinity` (the reader's affinity to the actor, 0 without an affinity
source), `fields.<name>` (a number in the activity's extra_context; 0 if
absent or not a number); numbers, + - * / ** and parentheses; and the
functions below, among them the decays the hosted feed services and search
engines use (`decay_linear`, `decay_exp`, `decay_gauss`, each `(value,
scale, offset=0, decay=0.5)`: 1 up to `offset`, `decay` at `offset +
scale`). An expression is parsed and checked when the ranking is made: a
name, function or construct outside these is a RankingError naming it.
The checked tree is rebuilt from nodes of this module's own (only numbers
and kind and field names, as strings, carry over from the text) and compiled
once into a function with no builtins: a candidate's score is then one call.

Age is measured from the newest candidate, not from the clock: a page is
then a function of stored state alone, the same on every backend, on every
replica and after a rebuild, and a cursor replays it exactly.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamfeed.domain.activity import Activity
from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.domain.ids import sort_key_of


class RankingError(StreamfeedError, ValueError):
    """A ranking that cannot be used: a bad expression (naming the bad part) or name."""


@dataclass(frozen=True)
class RankingInputs:
    """What a score may depend on: all of it read with the page, none of it from a clock."""

    #: None when the ranking reads no field of it (an expression without `fields.`): the read
    #: then fetches the window's ids only, and the bodies of the page it shows.
    activity: Activity | None
    age: float
    reactions: Mapping[str, int] = field(default_factory=dict)
    affinity: float = 0.0

    def field(self, name: str) -> float:
        """A number in the activity's extra_context; 0 if absent or not a number."""
        return _field(self.activity, name)


Score = Callable[[RankingInputs], float]
FastScore = Callable[[float, Mapping[str, int], float, "Activity | None"], float]


def decay_linear(value: float, scale: float, offset: float = 0.0, decay: float = 0.5) -> float:
    """1 up to offset, falling in a straight line to `decay` at offset + scale, then to 0."""
    _check_decay(scale, decay)
    distance = max(0.0, abs(value) - offset)
    reach = scale / (1.0 - decay)
    return max(0.0, (reach - distance) / reach)


def decay_exp(value: float, scale: float, offset: float = 0.0, decay: float = 0.5) -> float:
    """1 up to offset, then exponential: `decay` at offset + scale, decay**2 at offset + 2 scale."""
    _check_decay(scale, decay)
    distance = max(0.0, abs(value) - offset)
    return math.exp(math.log(decay) / scale * distance)


def decay_gauss(value: float, scale: float, offset: float = 0.0, decay: float = 0.5) -> float:
    """1 up to offset, then a bell: `decay` at offset + scale, falling fast after."""
    _check_decay(scale, decay)
    distance = max(0.0, abs(value) - offset)
    return math.exp(distance * distance * math.log(decay) / (scale * scale))


def _tolerant(decay_function: Callable[..., float]) -> Callable[..., float]:
    """The decay as a compiled ranking calls it: scale and decay given as numbers were checked
    when the ranking was made, so the hot path checks nothing and impossible values computed at
    read time score 0 instead of failing the page."""
    log, exp = math.log, math.exp

    def linear(value: float, scale: float, offset: float = 0.0, decay: float = 0.5) -> float:
        if not (scale > 0 and 0 < decay < 1):
            return 0.0
        reach = scale / (1.0 - decay)
        distance = abs(value) - offset
        return 1.0 if distance <= 0 else max(0.0, (reach - distance) / reach)

    def exponential(value: float, scale: float, offset: float = 0.0, decay: float = 0.5) -> float:
        if not (scale > 0 and 0 < decay < 1):
            return 0.0
        distance = abs(value) - offset
        return 1.0 if distance <= 0 else exp(log(decay) / scale * distance)

    def gauss(value: float, scale: float, offset: float = 0.0, decay: float = 0.5) -> float:
        if not (scale > 0 and 0 < decay < 1):
            return 0.0
        distance = abs(value) - offset
        return 1.0 if distance <= 0 else exp(distance * distance * log(decay) / (scale * scale))

    return {decay_linear: linear, decay_exp: exponential, decay_gauss: gauss}[decay_function]


def _check_decay(scale: float, decay: float) -> None:
    if not scale > 0:
        raise RankingError(f"a decay's scale must be above 0, not {scale}")
    if not 0 < decay < 1:
        raise RankingError(f"a decay's decay must be between 0 and 1 (exclusive), not {decay}")


def _log1p(value: float) -> float:
    return math.log1p(max(0.0, value))


def _sqrt(value: float) -> float:
    return math.sqrt(max(0.0, value))


FUNCTIONS: dict[str, tuple[Callable[..., float], int, int]] = {
    # name: (function, fewest arguments, most arguments)
    "decay_linear": (decay_linear, 2, 4),
    "decay_exp": (decay_exp, 2, 4),
    "decay_gauss": (decay_gauss, 2, 4),
    "log1p": (_log1p, 1, 1),
    "sqrt": (_sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "min": (min, 2, 8),
    "max": (max, 2, 8),
}

_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)


def _power(base: float, exponent: float) -> float:
    try:
        result = math.pow(base, exponent)
    except (OverflowError, ValueError):
        return 0.0
    return result if math.isfinite(result) else 0.0


#: The longest expression accepted: a ranking is a formula, not a program.
MAX_EXPRESSION = 2_000


@dataclass(frozen=True)
class Needs:
    """Which inputs an expression reads: a ranking that names no reaction kind costs no read."""

    reactions: frozenset[str] = frozenset()
    affinity: bool = False
    #: The activities themselves (their fields, or the actor an affinity is of).
    activity: bool = False
    #: An expression's score over plain arguments (age, reactions, affinity, activity): what a
    #: ranked read calls per candidate, without building RankingInputs.
    fast: FastScore | None = None


def compile_expression(text: str) -> tuple[Score, Needs]:
    """The score function of an expression and what it reads; RankingError naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise RankingError("a ranking expression must be a non-empty string")
    if len(text) > MAX_EXPRESSION:
        raise RankingError(f"a ranking expression is at most {MAX_EXPRESSION} characters, not {len(text)}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise RankingError(
            f"ranking expression {text!r}: not a formula ({error.msg} at column {error.offset})"
        ) from None
    kinds: set[str] = set()
    needs_affinity, needs_fields = [False], [False]

    def bad(node: ast.AST, what: str) -> RankingError:
        part = ast.get_source_segment(text.strip(), node) or type(node).__name__
        return RankingError(f"ranking expression {text!r}: {what}: {part!r}")

    def build(node: ast.AST) -> ast.expr:
        """The checked node rebuilt from nodes of our own: nothing of the text survives but
        numbers and the kind and field names, passed as strings."""
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise bad(node, "only numbers may appear as constants")
            return ast.Constant(float(node.value))
        if isinstance(node, ast.Name):
            if node.id == "age":
                return ast.Name("age", ast.Load())
            if node.id == "affinity":
                needs_affinity[0] = True
                return ast.Name("affinity", ast.Load())
            known = "age, affinity, reactions.<kind>, fields.<name>"
            raise bad(node, f"unknown name (known: {known})")
        if isinstance(node, ast.Attribute):
            source = node.value.id if isinstance(node.value, ast.Name) else None
            if source == "reactions":
                kinds.add(node.attr)
                get = ast.Attribute(ast.Name("reactions", ast.Load()), "get", ast.Load())
                return ast.Call(get, [ast.Constant(node.attr), ast.Constant(0)], [])
            if source == "fields":
                needs_fields[0] = True
                return _call("_field", ast.Name("activity", ast.Load()), ast.Constant(node.attr))
            raise bad(node, "only reactions.<kind> and fields.<name> have parts")
        if isinstance(node, ast.BinOp) and isinstance(node.op, _BINARY):
            left, right = build(node.left), build(node.right)
            if isinstance(node.op, ast.Div):
                return _call("_div", left, right)
            if isinstance(node.op, ast.Pow):
                return _call("_power", left, right)
            return ast.BinOp(left, type(node.op)(), right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = build(node.operand)
            return operand if isinstance(node.op, ast.UAdd) else ast.UnaryOp(ast.USub(), operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            known_function = FUNCTIONS.get(node.func.id)
            if known_function is None:
                raise bad(node.func, f"unknown function (known: {', '.join(sorted(FUNCTIONS))})")
            function, fewest, most = known_function
            if not fewest <= len(node.args) <= most:
                raise bad(node, f"{node.func.id} takes {fewest} to {most} arguments, not {len(node.args)}")
            if function in (decay_linear, decay_exp, decay_gauss):
                _check_constant_decay(node, text)
            return _call(f"_f_{node.func.id}", *(build(argument) for argument in node.args))
        raise bad(node, "not allowed in a ranking (numbers, names, + - * / **, and functions only)")

    parameters = [ast.arg(name) for name in ("age", "reactions", "affinity", "activity")]
    function = ast.Lambda(ast.arguments([], parameters, None, [], [], None, []), build(tree.body))
    code = compile(ast.fix_missing_locations(ast.Expression(function)), "<ranking>", "eval")
    # Only the names built above exist for the code: no builtins, no module globals.
    fast: FastScore = eval(code, {"__builtins__": {}, **_NAMESPACE})

    def score(inputs: RankingInputs) -> float:
        value = fast(inputs.age, inputs.reactions, inputs.affinity, inputs.activity)
        return value if math.isfinite(value) else 0.0

    needs = Needs(frozenset(kinds), needs_affinity[0], needs_fields[0] or needs_affinity[0], fast)
    return score, needs


def _call(name: str, *arguments: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(name, ast.Load()), list(arguments), [])


def _field(activity: Activity | None, name: str) -> float:
    if activity is None:
        return 0.0
    value = activity.extra_context.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    return float(value)


def _div(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


_NAMESPACE: dict[str, Any] = {
    "_field": _field,
    "_div": _div,
    "_power": _power,
    **{f"_f_{name}": function for name, (function, _, _) in FUNCTIONS.items()},
    **{f"_f_{f.__name__}": _tolerant(f) for f in (decay_linear, decay_exp, decay_gauss)},
}


def _check_constant_decay(node: ast.Call, text: str) -> None:
    """A decay's scale and decay given as numbers are checked when the ranking is made."""
    constants = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
    scale = constants[1] if len(constants) > 1 else None
    decay = constants[3] if len(constants) > 3 else 0.5
    if isinstance(scale, int | float) and isinstance(decay, int | float):
        try:
            _check_decay(float(scale), float(decay))
        except RankingError as error:
            raise RankingError(f"ranking expression {text!r}: {error}") from None


@dataclass(frozen=True)
class Ranking:
    """A named way to order a feed: an expression, or a Python function of RankingInputs (then
    `reactions` names the kinds it reads and `affinity` whether it reads the affinity)."""

    name: str
    score: str | Score
    reactions: frozenset[str] = frozenset()
    affinity: bool = False
    compiled: Score = field(init=False, repr=False, compare=False)
    needs: Needs = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier() or len(self.name) > 64:
            raise RankingError(
                f"a ranking's name is an identifier of at most 64 characters, not {self.name!r}"
            )
        if isinstance(self.score, str):
            compiled, needs = compile_expression(self.score)
        elif callable(self.score):
            compiled, needs = self.score, Needs(frozenset(self.reactions), self.affinity, activity=True)
        else:
            raise RankingError(
                f"ranking {self.name!r}: score is an expression or a function, not {self.score!r}"
            )
        object.__setattr__(self, "compiled", compiled)
        object.__setattr__(self, "needs", needs)


def ranking_from_config(name: str, config: Any) -> Ranking:
    """A ranking from configuration: an expression, or {"score": expression}."""
    if isinstance(config, Mapping):
        unknown = set(config) - {"score"}
        if unknown:
            raise RankingError(f"ranking {name!r}: unknown keys {sorted(unknown)} (known: score)")
        config = config.get("score")
    return Ranking(name, config)


def order(scored: list[tuple[float, str, Any]]) -> list[tuple[float, str, Any]]:
    """Highest score first; ties by id, newest first: one order on every backend."""
    by_id = sorted(scored, key=lambda item: item[1], reverse=True)
    return sorted(by_id, key=lambda item: -item[0])  # stable: equal scores keep the id order


def comes_after(score: float, activity_id: str, cursor_score: float, cursor_id: str) -> bool:
    """Whether an item is ordered after the cursor's (the last one a page showed)."""
    return score < cursor_score or (score == cursor_score and activity_id < cursor_id)


def score_all(
    ranking: Ranking,
    candidates: Sequence[str],
    activities: Mapping[str, Activity] | None = None,
    reactions: Mapping[str, Mapping[str, int]] | None = None,
    affinity: Mapping[str, float] | None = None,
) -> list[tuple[float, str, Activity | None]]:
    """Every candidate id's score, ordered; age counted from the newest candidate (ids begin with
    their time). activities: the bodies, for rankings that read them."""
    if not candidates:
        return []
    times = {i: sort_key_of(i) for i in candidates}
    newest = max(times.values())
    activities, reactions, affinity = activities or {}, reactions or {}, affinity or {}
    fast, compiled, empty = ranking.needs.fast, ranking.compiled, dict[str, int]()
    scored = []
    for activity_id in candidates:
        activity = activities.get(activity_id)
        age = (newest - times[activity_id]) / 1_000_000
        counts = reactions.get(activity_id, empty)
        near = affinity.get(activity.actor_id, 0.0) if activity is not None else 0.0
        try:
            if fast is not None:
                value = float(fast(age, counts, near, activity))
            else:
                value = float(compiled(RankingInputs(activity, age, counts, near)))
        except (ArithmeticError, ValueError):
            value = 0.0
        scored.append((value if math.isfinite(value) else 0.0, activity_id, activity))
    return order(scored)
