"""When a material is asked for: a declared condition over the application form.

A chain writes ``Material(..., required_if=FormIs("floor_area_m2", ">", 300))``; the
desk, the import, the one-time notice, ``chains show``, the catalogue and the drawing
read the same declaration (not a sentence in ``form_hint``), so a pharmacy that sells
no medical devices is never asked for a device list.

* ``FormIs(field)`` — a yes/no field (or a yes/no property of the form) is true;
* ``FormIs(field, op, value)`` — a field compared with a value (``==``, ``!=``, ``>``,
  ``>=``, ``<``, ``<=``, or ``in`` a tuple of choices);
* ``AnyOf(a, b, ...)`` / ``AllOf(a, b, ...)`` — either / both;
* a plain string is short for ``FormIs(that_name)``.

The Chinese text (营业面积 > 300 平方米) is written by
:func:`workflows.flow_conditions.condition_zh` from the form's own labels. Pure.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

Op = Literal["==", "!=", ">", ">=", "<", "<=", "in"]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "in": lambda value, options: value in options,
}


@dataclass(frozen=True)
class FormIs:
    """One form field (or a property of the form) compared with a value."""

    field: str
    op: Op = "=="
    value: Any = True

    def holds(self, form: BaseModel) -> bool:
        return bool(_OPS[self.op](getattr(form, self.field), self.value))

    def fields(self) -> list[str]:
        return [self.field]


@dataclass(frozen=True, init=False)
class AnyOf:
    """True when one of the conditions holds."""

    parts: tuple[Condition, ...]

    def __init__(self, *parts: Condition | str) -> None:
        object.__setattr__(self, "parts", tuple(as_condition(p) for p in parts))

    def holds(self, form: BaseModel) -> bool:
        return any(p.holds(form) for p in self.parts)

    def fields(self) -> list[str]:
        return [name for p in self.parts for name in p.fields()]


@dataclass(frozen=True, init=False)
class AllOf:
    """True when every condition holds."""

    parts: tuple[Condition, ...]

    def __init__(self, *parts: Condition | str) -> None:
        object.__setattr__(self, "parts", tuple(as_condition(p) for p in parts))

    def holds(self, form: BaseModel) -> bool:
        return all(p.holds(form) for p in self.parts)

    def fields(self) -> list[str]:
        return [name for p in self.parts for name in p.fields()]


Condition = FormIs | AnyOf | AllOf


def as_condition(value: Condition | str) -> Condition:
    """``"indoor"`` → ``FormIs("indoor")``; a condition as it is."""
    return FormIs(value) if isinstance(value, str) else value


def condition_problems(condition: Condition | str, form: type[BaseModel]) -> list[str]:
    """What is wrong with a condition for this form model (unknown fields, bad ops)."""
    condition = as_condition(condition)
    problems: list[str] = []
    if isinstance(condition, AnyOf | AllOf):
        if not condition.parts:
            problems.append("an empty AnyOf/AllOf")
        for part in condition.parts:
            problems += condition_problems(part, form)
        return problems
    if condition.op not in _OPS:
        problems.append(f"unknown comparison {condition.op!r} (use one of {', '.join(_OPS)})")
    known = condition.field in form.model_fields or isinstance(
        getattr(form, condition.field, None), property
    )
    if not known:
        problems.append(f"names {condition.field!r}, which is neither a form field nor a property")
    if condition.op == "in" and not isinstance(condition.value, tuple | list | frozenset | set):
        problems.append(f"{condition.field} in {condition.value!r}: 'in' needs a tuple of values")
    return problems
