"""The column reference of ``docs/import-format.md``, generated from the registered
chains' form models so it cannot drift. ``onechain chains docs`` rewrites the generated
part in place (with every other file that depends on the set of chains, see
:mod:`docsgen`); ``onechain chains docs --check``, run by the tests, fails when it is
out of date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from importing.columns import COMMON_COLUMNS, FormField, form_fields
from workflows import registry

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "import-format.md"
BEGIN = "<!-- BEGIN GENERATED: onechain chains docs -->"
END = "<!-- END GENERATED -->"
KINDS = {
    "str": "text",
    "int": "whole number",
    "float": "number",
    "bool": "是/否 (yes/no, true/false, 1/0)",
    "choice": "one of",
}
APPLICANT_KINDS = {
    "person": "个人 only",
    "organisation": "单位 only",
    "either": "个人 or 单位 (column 申请人类型 required)",
}


def _constraints(spec: FormField) -> str:
    if spec.info is None:
        return ""
    bounds: dict[str, Any] = {}
    for item in spec.info.metadata:
        for attr in ("gt", "ge", "lt", "le", "min_length", "max_length", "pattern"):
            value = getattr(item, attr, None)
            if value is not None:
                bounds[attr] = value
    parts: list[str] = []
    if "min_length" in bounds or "max_length" in bounds:
        low, high = bounds.get("min_length", 0), bounds.get("max_length")
        parts.append(f"{low}–{high} characters" if high else f"at least {low} characters")
    low = (">", bounds["gt"]) if "gt" in bounds else ("≥", bounds["ge"]) if "ge" in bounds else None
    high = (
        ("<", bounds["lt"]) if "lt" in bounds else ("≤", bounds["le"]) if "le" in bounds else None
    )
    for bound in (low, high):
        if bound is not None:
            parts.append(f"{bound[0]} {bound[1]:,}")
    if "pattern" in bounds:
        parts.append(f"pattern `{bounds['pattern']}`")
    return ", ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _field_row(spec: FormField) -> str:
    kind = KINDS[spec.kind]
    if spec.kind == "choice":
        kind += " " + ", ".join(f"{label} (`{value}`)" for value, label in spec.choices.items())
    notes = [_constraints(spec)]
    if not spec.required:
        default = spec.default
        if isinstance(default, bool):
            default = "是" if default else "否"
        elif spec.kind == "choice":
            default = spec.choices.get(str(default), default)
        notes.append(f"default {default}")
    required = "yes" if spec.required else "no"
    return (
        f"| {_cell(spec.label)} | `{spec.name}` | {_cell(kind)} | {required} | "
        f"{_cell('; '.join(n for n in notes if n))} | {_cell(spec.description)} |"
    )


def columns_markdown() -> str:
    lines = [
        "### Common columns",
        "",
        "| header | English header | also accepted | required | meaning |",
        "|---|---|---|---|---|",
    ]
    for column in COMMON_COLUMNS:
        aliases = "、".join(column.aliases)
        lines.append(
            f"| {column.label_zh} | `{column.name}` | {_cell(aliases)} | "
            f"{'yes' if column.required else 'no'} | {_cell(column.help)} |"
        )
    for chain in registry.all_chains():
        lines += [
            "",
            f"### `{chain.code}` — {chain.name_zh}",
            "",
            f"Applicant: {APPLICANT_KINDS[chain.applicant_kind]}. "
            f"Promised {chain.promised_days} / statutory {chain.statutory_days} working days.",
            "",
            "| header | field name | type | required | limits, default | form model description |",
            "|---|---|---|---|---|---|",
            *(_field_row(spec) for spec in form_fields(chain)),
            "",
            f"Materials of `{chain.code}` (材料, by code or by name; a material with a "
            "condition is asked for only when the row's form meets it, and ignored otherwise):",
            "",
            "| code | name | key | e-licence replaces it | commitment allowed | asked for when |",
            "|---|---|---|---|---|---|",
        ]
        for material in chain.materials:
            lines.append(
                f"| `{material.code}` | {_cell(material.name)} | "
                f"{'key' if material.key else 'non-key'} | {material.e_licence or ''} | "
                f"{'yes' if material.commitment else ''} | "
                f"{_cell(chain.material_condition(material)) or 'always'} |"
            )
    return "\n".join(lines) + "\n"


def generated_section(text: str) -> str:
    """The generated part of the doc's text (between the markers)."""
    try:
        start = text.index(BEGIN) + len(BEGIN)
        end = text.index(END, start)
    except ValueError:
        raise ValueError(f"{DOC_PATH.name} lacks the markers {BEGIN!r} … {END!r}") from None
    return text[start:end].strip("\n") + "\n"


def render(text: str) -> str:
    """``text`` (the doc) with its generated part rebuilt from the registry."""
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END, start)
    return text[:start] + "\n\n" + columns_markdown() + "\n" + text[end:]
