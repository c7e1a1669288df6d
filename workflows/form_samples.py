"""Plausible forms built from a chain's form model alone.

Everything that needs "a form of this chain" without a person typing one — drawing
the flow (``chains show``), checking every branch (``chains check``), the demo cases
(``up --demo``), the import sample file and the chain catalogue — builds it here, from
the form model: defaults, then ``Field(examples=[...])``, then values made up within
the field's bounds. So a new chain gets all of those without a line elsewhere; giving
text fields a few ``examples`` makes them read like real applications.

Every form built here goes through the model, its validators included (a rule across
fields such as "床位数不应少于客房数"): a combination the model refuses is never handed
out. When the first guess breaks such a rule, :func:`repaired` searches the fields'
examples, defaults, choices and bounds for a combination the model accepts; when none
is found, :func:`sample_problems` names the fields whose combination the author must
give as an example (``chains check`` fails with it).

Pure: no I/O, no clock. Random choices come from the ``random.Random`` passed in.
"""

from __future__ import annotations

import enum
import inspect
import itertools
import json
import random
import re
import types
import typing
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from domain.case import Applicant

#: Chance a yes/no field with a default keeps it in a demo form.
KEEP_DEFAULT_FLAG = 0.75
#: Random demo forms drawn before giving up on chance and repairing the last one.
DEMO_DRAWS = 40
#: Forms :func:`repaired` validates at most while looking for one the model accepts.
REPAIR_BUDGET = 4000
#: Most fields :func:`repaired` changes together (more would rarely read like the author's).
REPAIR_FIELDS = 3


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


def _first_guess(model: type[BaseModel]) -> dict[str, Any]:
    """The model's first whole-form example, else each field's default, first example
    or made-up value; not yet checked against the model's validators."""
    examples = model_examples(model)
    base = examples[0] if examples else {}
    return {
        name: base[name] if name in base else _sample_value(info)
        for name, info in model.model_fields.items()
    }


def model_examples(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Whole-form examples: ``model_config = ConfigDict(json_schema_extra={"examples":
    [{...}, ...]})``. The way to give a combination that a rule across fields needs."""
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if not isinstance(examples, list):
        return []
    return [dict(example) for example in examples if isinstance(example, dict)]


def accepts(model: type[BaseModel], values: dict[str, Any]) -> bool:
    """Whether the model (its field constraints and validators) takes ``values``."""
    try:
        model.model_validate(values)
    except ValidationError:
        return False
    return True


def sample_values(model: type[BaseModel]) -> dict[str, Any]:
    """Plausible values for every field: defaults, then examples, then made-up ones
    that meet the field's bounds (the lowest allowed number, a short text); when those
    break a rule of the model, the nearest combination it accepts (:func:`repaired`).
    Not valid only when no such combination is found (``chains check`` says so)."""
    values = _first_guess(model)
    if accepts(model, values):
        return values
    return repaired(model, values) or values


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def candidates(info: FieldInfo) -> list[Any]:
    """Every value the search tries for one field: its examples, default, choices,
    both yes/no, the smallest and largest number, nothing for an optional field."""
    annotation, optional = unwrap_optional(info.annotation)
    found: list[Any] = list(info.examples or [])
    if not info.is_required():
        found.append(info.get_default(call_default_factory=True))
    found += choices(annotation)
    if annotation is bool:
        found += [False, True]
    elif annotation in (int, float):
        found += [number(info, annotation, large=False), number(info, annotation, large=True)]
    elif not found:
        found.append(_made_up(info))
    if optional:
        found.append(None)
    unique: list[Any] = []
    for value in found:
        if not any(_same(value, seen) for seen in unique):
            unique.append(value)
    return unique


def repaired(
    model: type[BaseModel], values: dict[str, Any], keep: Collection[str] = ()
) -> dict[str, Any] | None:
    """``values`` changed as little as possible (the model's whole-form examples
    first, then one field, then two, …) so that the model accepts them, the fields in
    ``keep`` untouched; None when no combination within the budget is accepted."""
    for example in model_examples(model):
        merged = {**values, **{k: v for k, v in example.items() if k not in keep}}
        if accepts(model, merged):
            return merged
    free = [name for name in model.model_fields if name not in keep]
    options = {
        name: [v for v in candidates(model.model_fields[name]) if not _same(v, values.get(name))]
        for name in free
    }
    tried = 0
    for size in range(1, min(REPAIR_FIELDS, len(free)) + 1):
        for names in itertools.combinations(free, size):
            for picked in itertools.product(*(options[name] for name in names)):
                tried += 1
                if tried > REPAIR_BUDGET:
                    return None
                candidate = {**values, **dict(zip(names, picked, strict=True))}
                if accepts(model, candidate):
                    return candidate
    return None


@dataclass(frozen=True)
class SampleProblem:
    """Why no sample form validates: pydantic's message, and the fields whose values
    the author must give (together, when the rule spans several)."""

    message: str
    fields: tuple[str, ...]

    @property
    def across_fields(self) -> bool:
        return len(self.fields) > 1


def sample_problems(model: type[BaseModel]) -> list[SampleProblem]:
    """Why no sample form validates (empty when one does): a field with a pattern and
    no ``examples``, or a rule across fields that no combination of the fields'
    examples, defaults and bounds meets. Each names the fields to give examples for."""
    values = sample_values(model)
    try:
        model.model_validate(values)
    except ValidationError as invalid:
        problems: list[SampleProblem] = []
        for error in invalid.errors():
            loc = tuple(str(p) for p in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            fields = fields_behind(model, values, loc[0] if loc else None, message)
            problems.append(SampleProblem(message, fields))
        return problems
    return []


class _Reads:
    """Stands in for the model (``self.x``) or its input (``data["x"]``) in a
    validator, noting which fields the validator reads."""

    def __init__(self, values: dict[str, Any], read: list[str]) -> None:
        self._values, self._read = values, read

    def _note(self, name: str) -> Any:
        if name not in self._read:
            self._read.append(name)
        return self._values[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._values:
            raise AttributeError(name)
        return self._note(name)

    def __getitem__(self, name: str) -> Any:
        return self._note(name)

    def get(self, name: str, default: Any = None) -> Any:
        return self._note(name) if name in self._values else default

    def __contains__(self, name: object) -> bool:
        return name in self._values


def _call_reading(decorator: Any, first: Any, data: Any) -> None:
    """Call a validator on stand-ins (``info.data`` reads are noted too); what it
    returns or raises is beside the point."""
    info = types.SimpleNamespace(data=data, field_name=None, mode="python", context=None)
    rest: list[Any] = [lambda value: value] if decorator.info.mode == "wrap" else []
    try:
        if len(inspect.signature(decorator.func).parameters) > 1 + len(rest):
            rest.append(info)
        decorator.func(first, *rest)
    except Exception:  # deterministic: only which fields were read matters
        return


def fields_behind(
    model: type[BaseModel], values: dict[str, Any], field: str | None, message: str
) -> tuple[str, ...]:
    """The fields a failed check depends on: the field it sits on and every field its
    validators read (a model validator reading ``self.beds`` and ``self.rooms``);
    else the fields whose Chinese label the message names; else every field."""
    read: list[str] = [field] if field in model.model_fields else []
    decorators = model.__pydantic_decorators__
    if field is None:
        for decorator in decorators.model_validators.values():
            _call_reading(decorator, _Reads(values, read), _Reads(values, read))
    else:
        for decorator in decorators.field_validators.values():
            if field in decorator.info.fields:
                _call_reading(decorator, values.get(field), _Reads(values, read))
    if len(read) > (1 if field else 0):
        return tuple(read)
    labelled = [
        name
        for name, info in model.model_fields.items()
        if (label := _label(info)) and label in message and name not in read
    ]
    if read or labelled:
        return tuple(read + labelled)
    return tuple(model.model_fields)


def _label(info: FieldInfo) -> str:
    """A field's Chinese label without its unit: ``床位数（张）`` → ``床位数``."""
    return re.split(r"[（(]", info.description or "", maxsplit=1)[0].strip()


def demo_values(model: type[BaseModel], rng: random.Random) -> dict[str, Any]:
    """A random form the model accepts: one of each field's examples when it has some,
    a random choice, yes/no mostly at its default, numbers within the bounds. Drawn
    again while a rule across fields refuses it; after :data:`DEMO_DRAWS` draws, the
    last one repaired, else the sample form. Raises ``ValueError`` when none validates
    (``chains check`` reports that chain)."""
    values: dict[str, Any] = {}
    for _ in range(DEMO_DRAWS):
        values = _drawn(model, rng)
        if accepts(model, values):
            return values
    for fallback in (repaired(model, values), sample_values(model)):
        if fallback is not None and accepts(model, fallback):
            return fallback
    fields = sorted({f for p in sample_problems(model) for f in p.fields})
    raise ValueError(
        f"no form of {model.__name__} validates: give examples of {', '.join(fields)} "
        "that meet its rules (see `onechain chains check`)"
    )


def _drawn(model: type[BaseModel], rng: random.Random) -> dict[str, Any]:
    """One random draw of every field, each on its own (not yet validated)."""
    examples = model_examples(model)
    base = rng.choice(examples) if examples else {}
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation, _ = unwrap_optional(info.annotation)
        if name in base:
            values[name] = base[name]
        elif info.examples:
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
    at once. Only forms the model accepts: a change a rule across fields refuses is
    repaired by changing other fields too (``rooms=500`` brings ``beds`` up with it),
    or left out when no repair is found. (When the base itself is refused, nothing is
    compared with the model: ``chains check`` reports the base.)"""
    found: list[tuple[str, dict[str, Any]]] = [("", base)]
    flags: list[str] = []
    checked = accepts(model, base)

    def add(label: str, values: dict[str, Any], changed: Collection[str]) -> None:
        if checked and not accepts(model, values):
            fixed = repaired(model, values, keep=changed)
            if fixed is None:
                return
            values = fixed
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
                add(f"{name}={show_value(option)}", {**base, name: option}, (name,))
    for flag_value in (True, False):
        if len(flags) > 1:
            add(
                ", ".join(f"{f}={show_value(flag_value)}" for f in flags),
                {**base, **dict.fromkeys(flags, flag_value)},
                flags,
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
    """The form as the flow sees it. Unvalidated only when the values are refused, which
    the forms built here never are unless ``chains check`` already reports the chain
    (e.g. a name pattern without examples): the drawing still shows its flow."""
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
