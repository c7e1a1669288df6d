"""Conditions as a department head reads them, for the drawings: a form variant's
``floor_area_m2=450`` becomes ``营业面积 > 300 平方米``, ``venue_kind=internet_cafe``
becomes ``场所类别：互联网上网服务营业场所（网吧）``, ``fire_commitment=true`` becomes
``消防安全检查选择告知承诺：是``.

Labels come from the form's own ``Field(description=...)`` (the import header); where
a number decides, the flow is run on the numbers between the sample form's value and
the variant's to find the threshold it turns at (the flow is pure, so this is cheap).

Pure: no I/O.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from workflows.chain import Chain
from workflows.flow_analysis import FlowNotDrawable, node_json, record_flow
from workflows.form_samples import (
    build_form,
    choices,
    sample_applicant,
    show_value,
    unwrap_optional,
    variants,
)
from workflows.material_conditions import AllOf, AnyOf, Condition, as_condition

#: Units a number field's description may end with in brackets: ``营业面积（平方米）``.
UNITS = frozenset(
    [
        "平方米",
        "立方米",
        "万元",
        "元",
        "人",
        "名",
        "间",
        "张",
        "个",
        "台",
        "辆",
        "米",
        "层",
        "座",
        "天",
        "年",
        "吨",
        "千瓦",
        "床",
        "套",
        "处",
    ]
)
#: Labels of the explorations that change something other than a form field.
OTHER_LABELS = {
    "only key materials received": "仅收到关键材料",
    "applicant kind=person": "申请人为个人",
}
#: Most flows recorded while looking for one threshold.
THRESHOLD_STEPS = 40


def field_label(info: FieldInfo, name: str) -> tuple[str, str]:
    """A field's Chinese label and unit: ``营业面积（平方米）`` → (营业面积, 平方米);
    ``场所类别：甲 / 乙`` → (场所类别, ""); a yes/no field's bracketed explanation is
    left out. The field's name when it has no description."""
    head = re.split(r"[:：]", info.description or "", maxsplit=1)[0].strip()
    if not head:
        return name, ""
    found = re.fullmatch(r"(.+?)\s*[（(]([^（）()]*)[）)]", head)
    if found:
        annotation, _ = unwrap_optional(info.annotation)
        inside = found.group(2).strip()
        if inside in UNITS:
            return found.group(1), inside
        if annotation is bool:
            return found.group(1), ""
    return head, ""


def choice_label(info: FieldInfo, value: Any) -> str:
    """A choice as the description names it (``场所类别：KTV / 网吧`` in order)."""
    annotation, _ = unwrap_optional(info.annotation)
    values = choices(annotation)
    described = (info.description or "").replace(":", "：")
    if "：" in described and value in values:
        labels = [part.strip() for part in described.split("：", 1)[1].split("/")]
        if len(labels) == len(values) and all(labels):
            return labels[values.index(value)]
    return show_value(value)


class Conditions:
    """The Chinese text of each exploration label of one flow version."""

    def __init__(self, chain: Chain, version: int, base: dict[str, Any]) -> None:
        self.chain = chain
        self.flow = chain.flows[version]
        self.base = base
        self.values = dict(variants(chain.form, base))
        self._shapes: dict[str, str] = {}
        self._texts: dict[str, tuple[str, str]] = {}

    def field(self, label: str) -> str | None:
        """The form field a label changes (None for several or none)."""
        name = label.partition("=")[0]
        return name if "=" in label and name in self.chain.form.model_fields else None

    def text(self, label: str) -> str:
        """When the variant's branch is taken: ``营业面积 > 300 平方米``."""
        return self._both(label)[0]

    def otherwise(self, label: str) -> str:
        """When the sample form's branch is taken instead: ``营业面积 ≤ 300 平方米``."""
        return self._both(label)[1]

    def any_of(self, labels: list[str]) -> str:
        """Several labels taking the same branch: ``甲 或 乙``."""
        texts: list[str] = []
        for label in labels:
            if (text := self.text(label)) not in texts:
                texts.append(text)
        return " 或 ".join(texts)

    def question(self, labels: list[str]) -> str:
        """The decision's question: the labels of the fields it turns on."""
        names: list[str] = []
        for label in labels:
            name = self.field(label)
            if name is None:
                text = OTHER_LABELS.get(label, label)
            else:
                text = field_label(self.chain.form.model_fields[name], name)[0]
            if text not in names:
                names.append(text)
        return "、".join(names) + "？"

    def _both(self, label: str) -> tuple[str, str]:
        if label not in self._texts:
            self._texts[label] = self._describe(label)
        return self._texts[label]

    def _describe(self, label: str) -> tuple[str, str]:
        name = self.field(label)
        if name is None:
            text = OTHER_LABELS.get(label, label)
            return text, f"非{text}" if label in OTHER_LABELS else "其他情形"
        info = self.chain.form.model_fields[name]
        title, unit = field_label(info, name)
        value = self.values.get(label, {}).get(name)
        before = self.base.get(name)
        annotation, _ = unwrap_optional(info.annotation)
        if value is None:
            return f"未填{title}", f"已填{title}"
        if annotation is bool:
            return f"{title}：{'是' if value else '否'}", f"{title}：{'否' if value else '是'}"
        if choices(annotation):
            return f"{title}：{choice_label(info, value)}", f"{title}：{choice_label(info, before)}"
        if annotation in (int, float) and isinstance(before, int | float):
            found = self._threshold(name, annotation, before, value)
            if found is not None:
                variant_side, base_side = found
                suffix = f" {unit}" if unit else ""
                return f"{title} {variant_side}{suffix}", f"{title} {base_side}{suffix}"
        return f"{title}为 {show_value(value)}", "其他情形"

    def steps_together(self, labels: list[str]) -> list[str] | None:
        """Step names, in order, of the flow on the sample form with every labelled
        variant's change at once; None when a label is not one field's change."""
        values = dict(self.base)
        for label in labels:
            name = self.field(label)
            if name is None or label not in self.values:
                return None
            values[name] = self.values[label][name]
        shape = self._shape(values)
        if shape.startswith("error: "):
            return None
        return re.findall(r'"type": "step", "kind": "[^"]*", "name": "([^"]*)"', shape)

    # ------------------------------------------------------------ thresholds
    def _shape(self, values: dict[str, Any]) -> str:
        key = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
        if key not in self._shapes:
            try:
                nodes = record_flow(
                    self.flow,
                    build_form(self.chain.form, values),
                    sample_applicant(self.chain.applicant_kind),
                    [m.code for m in self.chain.materials],
                )
                self._shapes[key] = json.dumps([node_json(n) for n in nodes], ensure_ascii=False)
            except FlowNotDrawable as error:
                self._shapes[key] = f"error: {error}"
        return self._shapes[key]

    def _at(self, name: str, kind: type, number: float) -> str:
        value: int | float = int(number) if kind is int else float(number)
        return self._shape({**self.base, name: value})

    def _threshold(
        self, name: str, kind: type, before: float, after: float
    ) -> tuple[str, str] | None:
        """(variant side, sample side) such as ("> 300", "≤ 300"), from the whole
        numbers between the two values; None when the flow does not turn once there."""
        base_shape, variant_shape = self._at(name, kind, before), self._at(name, kind, after)
        if base_shape == variant_shape:
            return None
        rising = after > before
        low = math.floor(before) if rising else math.ceil(before)
        high = math.ceil(after) if rising else math.floor(after)
        if self._at(name, kind, low) != base_shape or self._at(name, kind, high) != variant_shape:
            return None
        for _ in range(THRESHOLD_STEPS):
            if abs(high - low) <= 1:
                break
            middle = (low + high) // 2
            shape = self._at(name, kind, middle)
            if shape == base_shape:
                low = middle
            elif shape == variant_shape:
                high = middle
            else:
                return None  # a third branch in between: say the value instead
        # ``low`` is the last whole number on the sample's side, ``high`` the first past it.
        if kind is float:
            half = low + (0.5 if rising else -0.5)
            strict = self._at(name, kind, half) == variant_shape
        else:
            strict = low % 10 == 0  # 100 reads better than 101
        edge = low if strict else high
        if rising:
            return (f"> {edge}", f"≤ {edge}") if strict else (f"≥ {edge}", f"< {edge}")
        return (f"< {edge}", f"≥ {edge}") if strict else (f"≤ {edge}", f"> {edge}")


# ------------------------------------------------------------ material conditions
_OP_ZH = {"==": "=", "!=": "≠", ">": ">", ">=": "≥", "<": "<", "<=": "≤"}


def condition_zh(form: type[BaseModel], condition: Condition | str) -> str:
    """A material's condition as a department head reads it, from the form's labels:
    ``FormIs("floor_area_m2", ">", 300)`` → ``营业面积 > 300 平方米``,
    ``FormIs("indoor")`` → ``室内游泳馆：是``, ``AnyOf(a, b)`` → ``a 或 b``."""
    condition = as_condition(condition)
    if isinstance(condition, AnyOf | AllOf):
        joiner = " 或 " if isinstance(condition, AnyOf) else " 且 "
        return joiner.join(condition_zh(form, part) for part in condition.parts)
    name, op, value = condition.field, condition.op, condition.value
    info = form.model_fields.get(name)
    if info is None:  # a property of the form: its docstring's first line names it
        found = getattr(form, name, None)
        doc = (getattr(found, "__doc__", None) or "").strip().splitlines()
        title = doc[0].rstrip("。.") if doc else name
        if (op == "==" and value is True) or (op == "!=" and value is False):
            return title
        if (op == "==" and value is False) or (op == "!=" and value is True):
            return f"非{title}"
        return f"{title} {_OP_ZH.get(op, op)} {show_value(value)}"
    title, unit = field_label(info, name)
    annotation, _ = unwrap_optional(info.annotation)
    if annotation is bool and op in ("==", "!=") and isinstance(value, bool):
        yes = value if op == "==" else not value
        return f"{title}：{'是' if yes else '否'}"
    if op == "in":
        return f"{title}：" + " 或 ".join(choice_label(info, v) for v in value)
    if choices(annotation):
        shown = choice_label(info, value)
        return f"{title}：{shown}" if op == "==" else f"{title}：非{shown}"
    suffix = f" {unit}" if unit else ""
    return f"{title} {_OP_ZH.get(op, op)} {show_value(value)}{suffix}"
