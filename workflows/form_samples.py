"""Plausible forms built from a chain's form model alone.

Everything that needs "a form of this chain" without a person typing one — drawing
the flow (``chains show``), checking every branch (``chains check``), the demo cases
(``up --demo``), the import sample file and the chain catalogue — builds it here, from
the form model: defaults, then ``Field(examples=[...])``, then values made up within
the field's bounds. So a new chain gets all of those without a line elsewhere; giving
text fields a few ``examples`` makes them read like real applications.

Pure: no I/O, no clock. Random choices come from the ``random.Random`` passed in.
"""

from __future__ import annotations

import enum
import json
import random
import types
import typing
from datetime import date
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from domain.case import Applicant

#: Chance a yes/no field with a default keeps it in a demo form.
KEEP_DEFAULT_FLAG = 0.75


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` → ``(X, True)``; anything else → ``(annotation, False)``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def bounds(info: FieldInfo) -> tuple[float | None, float | None, bool]:
    """Lower bound, upper bound, and whether the lower bound is exclusive."""
    low: float | None = None
    high: float | None = None
    exclusive = False
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            low = float(item.ge)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Gt):
            low, exclusive = float(item.gt), True  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Le):
            high = float(item.le)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Lt):
            high = float(item.lt) - 1  # type: ignore[arg-type]
    return low, high, exclusive


def _length(info: FieldInfo) -> tuple[int, int | None]:
    low, high = 0, None
    for item in info.metadata:
        if isinstance(item, annotated_types.MinLen):
            low = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            high = item.max_length
    return low, high


def number(info: FieldInfo, kind: type, large: bool) -> int | float:
    """The smallest allowed number, or (``large``) the largest or a big one."""
    low, high, exclusive = bounds(info)
    if large:
        value = high if high is not None else max(low or 0, 0) + 10_000
    else:
        value = (low + 1 if exclusive else low) if low is not None else 1
        if high is not None:
            value = min(value, high)
    return int(value) if kind is int else float(value)


def choices(annotation: Any) -> list[Any]:
    """The values of a ``Literal`` or an ``Enum`` field; empty for anything else."""
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [member.value for member in annotation]
    return []


def _text(info: FieldInfo, stem: str) -> str:
    low, high = _length(info)
    text = stem + "样" * max(0, low - len(stem))
    return text[:high] if high else text


def _made_up(info: FieldInfo) -> Any:
    annotation, _ = unwrap_optional(info.annotation)
    if options := choices(annotation):
        return options[0]
    if annotation is bool:
        return False
    if annotation in (int, float):
        return number(info, annotation, large=False)
    if annotation is str:
        return _text(info, "示例")
    if annotation is date:
        return date(2026, 1, 5).isoformat()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sample_values(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return []
    if origin is dict:
        return {}
    return None


def _sample_value(info: FieldInfo) -> Any:
    if not info.is_required():
        return info.get_default(call_default_factory=True)
    if info.examples:
        return info.examples[0]
    return _made_up(info)


def sample_values(model: type[BaseModel]) -> dict[str, Any]:
    """Plausible values for every field: defaults, then examples, then made-up ones
    that meet the field's bounds (the lowest allowed number, a short text)."""
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    base = dict(examples[0]) if isinstance(examples, list) and examples else {}
    return {
        name: base[name] if name in base else _sample_value(info)
        for name, info in model.model_fields.items()
    }


def sample_problems(model: type[BaseModel]) -> list[str]:
    """Why the sample form does not validate (empty when it does): a field with a
    pattern or a validator needs ``examples`` so demos and drawings can fill it."""
    try:
        model.model_validate(sample_values(model))
    except ValidationError as invalid:
        return [
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
            for error in invalid.errors()
        ]
    return []


def demo_values(model: type[BaseModel], rng: random.Random) -> dict[str, Any]:
    """A random, valid-looking form: one of each field's examples when it has some, a
    random choice, yes/no mostly at its default, numbers within the bounds."""
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation, _ = unwrap_optional(info.annotation)
        if info.examples:
            values[name] = rng.choice(info.examples)
        elif annotation is bool:
            default = info.get_default() if not info.is_required() else rng.random() < 0.5
            values[name] = default if rng.random() < KEEP_DEFAULT_FLAG else not default
        elif options := choices(annotation):
            values[name] = rng.choice(options)
        elif not info.is_required():
            values[name] = info.get_default(call_default_factory=True)
        elif annotation in (int, float):
            low = number(info, annotation, large=False)
            high = min(number(info, annotation, large=True), low + 1_000)
            picked = rng.uniform(low, high) if annotation is float else rng.randint(low, high)  # type: ignore[arg-type]
            values[name] = round(picked) if annotation is float else picked
        elif annotation is str:
            values[name] = _text(info, f"示例{rng.randrange(1, 1000)}")
        else:
            values[name] = _sample_value(info)
    return values


def variants(model: type[BaseModel], base: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The base values, then one field changed at a time (every yes/no flipped, every
    other choice, the smallest and the largest number, every example), then all yes/no
    at once."""
    found: list[tuple[str, dict[str, Any]]] = [("", base)]
    flags: list[str] = []

    def add(label: str, values: dict[str, Any]) -> None:
        if all(values != seen for _, seen in found):
            found.append((label, values))

    for name, info in model.model_fields.items():
        annotation, optional = unwrap_optional(info.annotation)
        current = base.get(name)
        options: list[Any] = []
        if annotation is bool:
            flags.append(name)
            options = [not current]
        elif values := choices(annotation):
            options = [c for c in values if c != current]
        elif annotation in (int, float):
            options = [
                number(info, annotation, large=False),
                *(info.examples or []),
                number(info, annotation, large=True),
            ]
        if optional:
            options.append(None)
        for option in options:
            if option != current:
                add(f"{name}={show_value(option)}", {**base, name: option})
    for flag_value in (True, False):
        if len(flags) > 1:
            add(
                ", ".join(f"{f}={show_value(flag_value)}" for f in flags),
                {**base, **dict.fromkeys(flags, flag_value)},
            )
    return found


def show_value(value: Any) -> str:
    """A form value as a condition shows it: text as is, ``300.0`` as ``300``, JSON else."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


def build_form(model: type[BaseModel], values: dict[str, Any]) -> BaseModel:
    """The form as the flow sees it; unvalidated when sample values break a rule the
    flow does not branch on (e.g. a name pattern)."""
    try:
        return model.model_validate(values)
    except ValidationError:
        return model.model_construct(**values)


def sample_applicant(applicant_kind: str) -> Applicant:
    """A stand-in applicant of the kind a chain takes (organisation when either)."""
    kind: Literal["person", "organisation"] = (
        "person" if applicant_kind == "person" else "organisation"
    )
    return Applicant(kind=kind, name="示例申请人", id_number="000000000000000000")
