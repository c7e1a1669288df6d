"""What each column of an import file means.

A header names either a **common column** (case number, chain, applicant, received
time, materials), in English or Chinese, or a **form field** of a chain: its field
name (``floor_area_m2``), its Chinese ``description`` from the form model
(``建筑面积（平方米）``) or the short label before the first bracket or colon of that
description (``建筑面积``). Headers are compared after Unicode NFKC folding (full-width
brackets and letters become half-width), without spaces and case-insensitively.

One file may mix chains: ``办学地址`` fills the kindergarten's ``address`` and
``经营场所地址`` the restaurant's; an English ``address`` column fills every chain's.
"""

from __future__ import annotations

import re
import types
import typing
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic.fields import FieldInfo

import chains  # noqa: F401  (registers the chains)
from workflows import registry
from workflows.chain import Chain

# ------------------------------------------------------------------ common columns


@dataclass(frozen=True)
class CommonColumn:
    name: str
    label_zh: str
    aliases: tuple[str, ...]
    required: bool
    help: str


COMMON_COLUMNS: tuple[CommonColumn, ...] = (
    CommonColumn(
        "case_no",
        "案件编号",
        ("办件编号", "受理编号", "case number"),
        True,
        "1–64 letters, digits, '-' or '_'; the workflow key: a case number is started once",
    ),
    CommonColumn(
        "chain",
        "事项",
        ("链", "一件事", "链条"),
        True,
        "chain code (kindergarten…) or its Chinese name (我要开幼儿园…); "
        "optional when --chain is given",
    ),
    CommonColumn(
        "applicant_name",
        "申请人",
        ("申请人名称", "申请人姓名", "applicant"),
        True,
        "person's or organisation's name",
    ),
    CommonColumn(
        "applicant_kind",
        "申请人类型",
        ("kind",),
        False,
        "个人/person or 单位/organisation; may be blank when the chain takes only one kind",
    ),
    CommonColumn(
        "id_number",
        "证件号码",
        ("身份证号码", "统一社会信用代码", "证件号", "id"),
        True,
        "居民身份证号码 (person, MOD 11-2 check character) or 统一社会信用代码 "
        "(organisation, GB 32100-2015 check character)",
    ),
    CommonColumn(
        "phone",
        "联系电话",
        ("手机号码", "电话", "手机"),
        False,
        "mobile (11 digits starting with 1, +86 allowed) or landline (0537-2345678)",
    ),
    CommonColumn(
        "received_at",
        "受理时间",
        ("收件时间", "申请时间"),
        False,
        "ISO 8601 or YYYY-MM-DD HH:MM (also 2026/9/30 9:05, 2026年9月30日); China time "
        "unless an offset is given; blank = the moment of import",
    ),
    CommonColumn(
        "materials",
        "材料",
        ("申请材料", "材料清单"),
        False,
        "material codes or names of the chain, separated by ; ； or 、",
    ),
    CommonColumn(
        "commitments",
        "告知承诺",
        ("承诺材料", "承诺"),
        False,
        "materials the applicant's signed written commitment replaces (告知承诺制), as in 材料; "
        "only those the chain allows",
    ),
)

#: Headers read and then ignored: row numbers, remarks, and the ``reason`` column of an
#: ``--errors-out`` file, so a fixed error file can be imported again as it is.
IGNORED_HEADERS: frozenset[str] = frozenset(
    {"reason", "原因", "错误原因", "序号", "编号序号", "no", "no.", "备注", "remarks", "note"}
)


def normalise_header(text: Any) -> str:
    """The key a header is compared by: NFKC, no spaces, lower case, no BOM."""
    folded = unicodedata.normalize("NFKC", str(text or "")).replace("\ufeff", "")
    return re.sub(r"\s+", "", folded).lower()


def short_label(description: str) -> str:
    """``建筑面积（平方米）`` → ``建筑面积``; ``企业类型：有限责任公司 / …`` → ``企业类型``."""
    folded = unicodedata.normalize("NFKC", description)
    return re.split(r"[(:]", folded, maxsplit=1)[0].strip()


# --------------------------------------------------------------------- form fields


@dataclass(frozen=True)
class FormField:
    """One field of a chain's form model, as an import column."""

    chain: str
    name: str
    description: str
    kind: Literal["str", "int", "float", "bool", "choice"]
    required: bool
    default: Any
    choices: dict[str, str] = field(default_factory=dict)  # value -> Chinese label
    info: FieldInfo | None = None

    @property
    def label(self) -> str:
        """The Chinese header the docs and the sample use."""
        return short_label(self.description) if self.description else self.name


def _literal_values(annotation: Any) -> tuple[str, ...] | None:
    if typing.get_origin(annotation) is Literal:
        return tuple(str(v) for v in typing.get_args(annotation))
    return None


def _choice_labels(values: tuple[str, ...], description: str) -> dict[str, str]:
    """Labels for a Literal field from its description ``名称：甲 / 乙 / 丙``, in order."""
    folded = unicodedata.normalize("NFKC", description)
    if ":" not in folded:
        return {}
    labels = [part.strip() for part in folded.split(":", 1)[1].split("/")]
    if len(labels) != len(values) or not all(labels):
        return {}
    return dict(zip(values, labels, strict=True))


def _kind(annotation: Any) -> Literal["str", "int", "float", "bool", "choice"]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else str
    if _literal_values(annotation):
        return "choice"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    return "str"


def form_fields(chain: Chain) -> list[FormField]:
    """The chain's form fields in model order."""
    result: list[FormField] = []
    for name, info in chain.form.model_fields.items():
        kind = _kind(info.annotation)
        description = info.description or ""
        values = _literal_values(info.annotation) or ()
        choices = _choice_labels(values, description) if kind == "choice" else {}
        if kind == "choice" and not choices:
            choices = {v: v for v in values}
        result.append(
            FormField(
                chain=chain.code,
                name=name,
                description=description,
                kind=kind,
                required=info.is_required(),
                default=None if info.is_required() else info.get_default(call_default_factory=True),
                choices=choices,
                info=info,
            )
        )
    return result


# ------------------------------------------------------------------- resolving


@dataclass(frozen=True)
class Vocabulary:
    """Every header this deployment's chains understand, by normalised key."""

    common: dict[str, str]  # key -> common column name
    form: dict[str, dict[str, str]]  # key -> {chain code: field name}
    fields: dict[tuple[str, str], FormField]  # (chain, field) -> field
    chains: dict[str, str]  # normalised chain code / name -> chain code


def build_vocabulary() -> Vocabulary:
    common: dict[str, str] = {}
    for column in COMMON_COLUMNS:
        for alias in (column.name, column.label_zh, *column.aliases):
            common[normalise_header(alias)] = column.name
    form: dict[str, dict[str, str]] = {}
    fields: dict[tuple[str, str], FormField] = {}
    chain_names: dict[str, str] = {}
    for chain in registry.all_chains():
        for alias in (chain.code, chain.name_zh, chain.name_en):
            chain_names[normalise_header(alias)] = chain.code
        for spec in form_fields(chain):
            fields[(chain.code, spec.name)] = spec
            keys = {normalise_header(spec.name)}
            if spec.description:
                keys |= {normalise_header(spec.description), normalise_header(spec.label)}
            for key in keys:
                if key in common or key in IGNORED_HEADERS:
                    continue  # a common column always wins
                taken = form.setdefault(key, {})
                if taken.get(chain.code, spec.name) != spec.name:
                    raise ValueError(
                        f"chain {chain.code}: header {key!r} would mean both "
                        f"{taken[chain.code]} and {spec.name}"
                    )
                taken[chain.code] = spec.name
    return Vocabulary(common=common, form=form, fields=fields, chains=chain_names)


@dataclass(frozen=True)
class Column:
    """One column of a file: its header and what it means."""

    index: int
    header: str
    common: str | None = None  # common column name
    form: dict[str, str] | None = None  # {chain: field}
    ignored: bool = False

    @property
    def unknown(self) -> bool:
        return self.common is None and self.form is None and not self.ignored


class HeaderError(ValueError):
    """The header row cannot be used (missing or doubled columns)."""


@dataclass
class Layout:
    """A file's columns resolved against the vocabulary."""

    columns: list[Column]
    vocabulary: Vocabulary

    def common_index(self, name: str) -> int | None:
        return next((c.index for c in self.columns if c.common == name), None)

    def form_columns(self, chain: str) -> dict[str, list[Column]]:
        """For one chain: field name -> the columns that fill it (usually one)."""
        result: dict[str, list[Column]] = {}
        for column in self.columns:
            if column.form and chain in column.form:
                result.setdefault(column.form[chain], []).append(column)
        return result

    @property
    def unknown_headers(self) -> list[str]:
        return [c.header for c in self.columns if c.unknown and c.header]

    def header_for_field(self, chain: str, name: str) -> str:
        """The header a problem with ``name`` is reported under: the file's own column
        if it has one, else the label the docs give (Chinese if the file is Chinese)."""
        columns = self.form_columns(chain).get(name)
        if columns:
            return columns[0].header
        spec = self.vocabulary.fields[(chain, name)]
        return spec.label if self.chinese else spec.name

    @property
    def chinese(self) -> bool:
        return any(re.search(r"[\u4e00-\u9fff]", c.header) for c in self.columns)


def resolve_headers(
    headers: list[str], *, chain_given: bool, vocabulary: Vocabulary | None = None
) -> Layout:
    """Map each header; raise :class:`HeaderError` if a required column is missing or a
    common column appears twice."""
    vocab = vocabulary or build_vocabulary()
    columns: list[Column] = []
    seen: dict[str, str] = {}
    for index, header in enumerate(headers):
        key = normalise_header(header)
        if key in vocab.common:
            name = vocab.common[key]
            if name in seen:
                raise HeaderError(
                    f"columns {seen[name]!r} and {header!r} both mean {name}; keep one"
                )
            seen[name] = header
            columns.append(Column(index, header, common=name))
        elif key in vocab.form:
            columns.append(Column(index, header, form=dict(vocab.form[key])))
        elif key in IGNORED_HEADERS or not key:
            columns.append(Column(index, header, ignored=bool(key)))
        else:
            columns.append(Column(index, header))
    required = [c for c in COMMON_COLUMNS if c.required and c.name not in seen]
    if chain_given:
        required = [c for c in required if c.name != "chain"]
    if required:
        missing = ", ".join(f"{c.label_zh} ({c.name})" for c in required)
        raise HeaderError(f"missing column(s): {missing}")
    return Layout(columns=columns, vocabulary=vocab)
