"""Checking every row before anything starts.

Each problem names the row (the file's row number, header = 1), the column (the
file's own header, or the documented one when the column is missing) and the reason.
A row with no problem becomes a :class:`client.facade.CaseRequest`, checked with the
same rules the facade applies (chain known, applicant id check characters, the chain's
form model), plus what only a file can get wrong: dates, phone numbers, materials,
case numbers repeated inside the file.

Before any of that, every cell is checked for what no application carries
(``_precheck``): more characters than the cell limit, control characters, an XLSX
formula, or a value of the wrong type (a JSON object where a name belongs, ``true``
where a number belongs, an Excel date in a name column). Such a cell is one problem
naming its row and column; nothing is coerced silently.

Ids and phone numbers in problems are masked (``domain.masking``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import ValidationError

from client.facade import CaseRequest
from domain.actions import CASE_NO_PATTERN
from domain.case import Applicant
from domain.ids import InvalidId, check_applicant_id
from domain.masking import mask_id_number, mask_phone
from domain.materials import Commitment
from domain.phones import normalise_phone
from domain.roles import Actor
from domain.text import check_name, describe_unsafe
from domain.timezone import CST
from importing.columns import Column, FormField, Layout, normalise_header
from importing.limits import ImportLimits, over_limit
from importing.readers import FileFormat, Formula, RawRow, Sheet, cell_text, is_blank
from workflows import registry
from workflows.chain import Chain

#: A received time this far ahead of the clock is a typo, not clock skew.
FUTURE_TOLERANCE = timedelta(minutes=10)
EARLIEST_YEAR = 2000
SEPARATORS = re.compile(r"([;；、\n])")

PERSON_WORDS = {"个人", "自然人", "个体", "个体工商户", "person", "individual", "p"}
ORGANISATION_WORDS = {
    "单位",
    "企业",
    "法人",
    "组织",
    "机构",
    "公司",
    "organisation",
    "organization",
    "company",
    "o",
}
TRUE_WORDS = {"是", "有", "对", "需要", "true", "yes", "y", "t", "1", "on", "√", "✓", "✔"}
FALSE_WORDS = {"否", "无", "没有", "不", "不需要", "false", "no", "n", "f", "0", "off", "×", "✗"}

_DATE_TIME = re.compile(
    r"^(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?"
    r"(?:[ T]+(?P<H>\d{1,2})[:：](?P<M>\d{2})(?:[:：](?P<S>\d{2})(?:\.(?P<f>\d{1,6}))?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    reason: str
    value: str = ""  # the offending cell, masked when it is an id or a phone number


@dataclass
class CheckedRow:
    raw: RawRow
    problems: list[Problem] = field(default_factory=list)
    request: CaseRequest | None = None

    @property
    def valid(self) -> bool:
        return self.request is not None and not self.problems

    @property
    def reason(self) -> str:
        """All problems in one line, for the ``reason`` column of an error file."""
        return "; ".join(f"{p.column}: {p.reason}" for p in self.problems)


@dataclass
class CheckedFile:
    sheet: Sheet
    layout: Layout
    rows: list[CheckedRow]

    @property
    def valid_rows(self) -> list[CheckedRow]:
        return [r for r in self.rows if r.valid]

    @property
    def invalid_rows(self) -> list[CheckedRow]:
        return [r for r in self.rows if not r.valid]

    @property
    def problems(self) -> list[Problem]:
        return [p for r in self.rows for p in r.problems]


# ----------------------------------------------------------------- single values


def parse_received_at(value: Any, *, now: datetime | None = None) -> datetime:
    """An aware instant from an ISO or ``YYYY-MM-DD HH:MM`` text (China time unless an
    offset is given) or an XLSX date cell; ``ValueError`` with the reason otherwise."""
    now = now or datetime.now(UTC)
    if isinstance(value, datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=CST)
    elif isinstance(value, date):
        instant = datetime(value.year, value.month, value.day, tzinfo=CST)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        match = _DATE_TIME.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a time like 2026-09-30 09:30 or ISO 8601")
        parts = match.groupdict()
        try:
            instant = datetime(
                int(parts["y"]),
                int(parts["m"]),
                int(parts["d"]),
                int(parts["H"] or 0),
                int(parts["M"] or 0),
                int(parts["S"] or 0),
                int((parts["f"] or "0").ljust(6, "0")),
                tzinfo=CST,
            )
        except ValueError as error:
            raise ValueError(f"{text!r} is not a real date/time ({error})") from None
        if parts["tz"]:
            offset = datetime.fromisoformat(f"2000-01-01T00:00{parts['tz']}").tzinfo
            instant = instant.replace(tzinfo=offset)
    if instant.year < EARLIEST_YEAR:
        raise ValueError(f"{instant.date().isoformat()} is before {EARLIEST_YEAR}")
    if instant > now + FUTURE_TOLERANCE:
        raise ValueError(f"{instant.astimezone(CST):%Y-%m-%d %H:%M} is in the future")
    return instant


def parse_phone(value: Any) -> str:
    """A plausible Chinese phone number, normalised; ``ValueError`` otherwise (the
    desk's and the worker's rule: ``domain.phones``)."""
    return normalise_phone(cell_text(value))


def parse_kind(value: Any) -> str:
    word = normalise_header(value)
    if word in PERSON_WORDS:
        return "person"
    if word in ORGANISATION_WORDS:
        return "organisation"
    raise ValueError(f"{cell_text(value)!r} is not 个人/person or 单位/organisation")


def resolve_chain(value: Any, chains: dict[str, str]) -> str:
    code = chains.get(normalise_header(value))
    if code is None:
        known = ", ".join(sorted(set(chains.values())))
        raise ValueError(f"unknown chain {cell_text(value)!r} (known: {known})")
    return code


_MATERIAL_KEYS: dict[int, tuple[Chain, dict[str, str], int]] = {}


def _material_keys(chain: Chain) -> tuple[dict[str, str], int]:
    """Normalised code/name -> material code, and the most pieces a name splits into
    (cached per chain object)."""
    cached = _MATERIAL_KEYS.get(id(chain))
    if cached is not None and cached[0] is chain:
        return cached[1], cached[2]
    by_key: dict[str, str] = {}
    longest = 1
    for material in chain.materials:
        by_key[normalise_header(material.code)] = material.code
        by_key[normalise_header(material.name)] = material.code
        longest = max(longest, len(SEPARATORS.split(material.name)) // 2 + 1)
    _MATERIAL_KEYS[id(chain)] = (chain, by_key, longest)
    return by_key, longest


def parse_materials(value: Any, chain: Chain) -> list[str]:
    """Material codes from codes or names separated by ; ； or 、 (a JSON list works too)."""
    by_key, longest = _material_keys(chain)
    texts = [cell_text(v) for v in value] if isinstance(value, list) else [cell_text(value)]
    codes: list[str] = []
    unknown: list[str] = []
    for text in texts:
        # Names may contain separators themselves (董事、监事、经理任职文件): take the
        # longest run of pieces that, with their own separators, is a material's name.
        pieces = [normalise_header(p) for p in SEPARATORS.split(text)]  # piece, sep, piece…
        parts, seps = pieces[0::2], pieces[1::2]
        originals = SEPARATORS.split(text)[0::2]
        i = 0
        while i < len(parts):
            if not parts[i]:
                i += 1
                continue
            for j in range(min(len(parts), i + longest), i, -1):
                joined = "".join(parts[k] + seps[k] for k in range(i, j - 1)) + parts[j - 1]
                code = by_key.get(joined)
                if code is not None:
                    if code not in codes:
                        codes.append(code)
                    i = j
                    break
            else:
                unknown.append(originals[i].strip())
                i += 1
    if unknown:
        raise ValueError(
            f"not a material of chain {chain.code}: {'、'.join(unknown)} "
            "(use the codes or names in docs/import-format.md)"
        )
    return codes


def _form_value(spec: FormField, value: Any) -> Any:
    """A cell made ready for the form model: Chinese yes/no, choice labels, 1,800."""
    if not isinstance(value, str):
        if spec.kind == "bool" and isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if spec.kind == "str" and isinstance(value, int | float):
            return cell_text(value)
        return value
    text = unicodedata.normalize("NFKC", value).strip()
    if spec.kind == "bool":
        word = text.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        return text
    if spec.kind in ("int", "float"):
        return re.sub(r"[,\s]", "", text)
    if spec.kind == "choice":
        key = normalise_header(text)
        for choice, label in spec.choices.items():
            if key in (normalise_header(choice), normalise_header(label)):
                return choice
        return text
    return value.strip()


def _pydantic_reason(error: dict[str, Any], chain: str) -> str:
    if error["type"] == "missing":
        return f"required for chain {chain}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


# --------------------------------------------------------------------- types

#: What each common column takes: "text", "text_or_list" (materials), "date".
COMMON_KINDS = {
    "received_at": "date",
    "materials": "text_or_list",
    "commitments": "text_or_list",
}
_EXPECTED = {
    "text": "text",
    "str": "text",
    "text_or_list": "text or a list of text",
    "date": "a date/time",
    "int": "a whole number",
    "float": "a number",
    "bool": "yes/no",
    "choice": "one of the listed choices (text)",
}


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {cell_text(value)}"
    if isinstance(value, datetime | date):
        return "a date"
    if isinstance(value, time):
        return "a time of day"
    return f"a {type(value).__name__}"


def type_problem(value: Any, kind: str, file_format: FileFormat) -> str | None:
    """Why ``value`` does not fit a column of ``kind``, or None. Text always fits (the
    parsers judge it); other JSON or Excel types only where they mean that kind."""
    if value is None or isinstance(value, str):
        return None
    expected = f"expected {_EXPECTED.get(kind, kind)}, got {_got(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return expected
    if isinstance(value, bool):
        return None if kind == "bool" else expected
    if isinstance(value, int | float):
        if kind in ("int", "float"):
            return None
        if kind == "bool" and value in (0, 1):
            return None
        # Excel stores typed digits (a phone, a case number) as numbers; JSON says what
        # it means, so there a number where text belongs is refused.
        if (
            file_format == "xlsx"
            and kind in ("text", "str", "text_or_list")
            and float(value).is_integer()
        ):
            return None
        if file_format == "jsonl" and kind in ("text", "str"):
            return expected + " (write it in quotes)"
        return expected
    if isinstance(value, datetime | date) and not isinstance(value, time):
        return None if kind == "date" else expected
    if isinstance(value, list):
        if kind == "text_or_list" and all(isinstance(v, str) for v in value):
            return None
        if kind == "text_or_list":
            return "expected text or a list of text, got a list holding other values"
        return expected
    return expected


def _texts_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for v in value for t in _texts_in(v)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (k, *_texts_in(v))]
    return []


def _cell_chars(value: Any) -> int:
    return (
        sum(len(t) for t in _texts_in(value)) if not isinstance(value, Formula) else len(value.text)
    )


# ---------------------------------------------------------------------- rows


class RowChecker:
    """Checks rows of one file; remembers case numbers to catch repeats."""

    def __init__(
        self,
        layout: Layout,
        *,
        actor: Actor,
        default_chain: str | None = None,
        now: datetime | None = None,
        file_format: FileFormat = "csv",
        limits: ImportLimits | None = None,
    ) -> None:
        self.layout = layout
        self.file_format = file_format
        self.limits = limits or ImportLimits()
        self.actor = actor
        self.default_chain = default_chain
        self.now = now or datetime.now(UTC)
        self.seen_case_nos: dict[str, int] = {}
        self._form_columns: dict[str, dict[str, list[Column]]] = {}

    def _cell(self, raw: RawRow, name: str) -> Any:
        index = self.layout.common_index(name)
        return "" if index is None else raw.values[index]

    def _header(self, name: str) -> str:
        index = self.layout.common_index(name)
        if index is not None:
            return self.layout.columns[index].header
        from importing.columns import COMMON_COLUMNS

        column = next(c for c in COMMON_COLUMNS if c.name == name)
        return column.label_zh if self.layout.chinese else column.name

    def _precheck(self, raw: RawRow, problems: list[Problem]) -> RawRow:
        """Cell limit, control characters, formulas and types of the common columns;
        returns the row with the refused cells blanked for the checks that follow."""
        values = list(raw.values)
        limit = self.limits.max_cell_chars
        for column in self.layout.columns:
            value = values[column.index]
            if is_blank(value):
                continue
            reason: str | None = None
            chars = _cell_chars(value)
            if chars > limit:
                reason = over_limit(
                    "this cell", f"{chars:,} characters", f"{limit:,}", "max_cell_chars"
                )
            elif isinstance(value, Formula):
                reason = "a formula; the import takes values only (copy, then paste as values)"
            elif column.common is not None:
                kind = COMMON_KINDS.get(column.common, "text")
                reason = type_problem(value, kind, self.file_format)
            if reason is None:
                reason = next(
                    (r for t in _texts_in(value) if (r := describe_unsafe(t)) is not None), None
                )
            if reason is not None:
                shown = "" if chars > limit else _shown(column.common or "", value)
                header = column.header.strip() or f"(column {column.index + 1})"
                problems.append(Problem(raw.number, header, reason, shown))
                values[column.index] = ""
        if raw.extra:
            longest = max(_cell_chars(v) for v in raw.extra)
            if longest > limit:
                problems.append(
                    Problem(
                        raw.number,
                        "(extra cells)",
                        over_limit(
                            "a cell", f"{longest:,} characters", f"{limit:,}", "max_cell_chars"
                        ),
                    )
                )
        return replace(raw, values=values)

    def check(self, raw: RawRow) -> CheckedRow:
        row = CheckedRow(raw)
        problems = row.problems
        if raw.problem:
            problems.append(Problem(raw.number, "(row)", raw.problem))
            return row
        cleaned = self._precheck(raw, problems)
        first = len(problems)
        refused = {p.column for p in problems}
        self._check(cleaned, row)
        # A refused cell was blanked: drop the follow-ups ("required") for its column.
        problems[first:] = [p for p in problems[first:] if p.column not in refused]
        if problems:
            row.request = None
        return row

    def _check(self, raw: RawRow, row: CheckedRow) -> None:
        problems = row.problems

        def problem(name: str, reason: str, value: Any = "") -> None:
            problems.append(Problem(raw.number, self._header(name), reason, _shown(name, value)))

        if raw.extra:
            problems.append(
                Problem(
                    raw.number,
                    "(extra cells)",
                    f"{len(raw.extra)} cell(s) right of the last column; move them under a header",
                )
            )

        # case number
        case_no = cell_text(self._cell(raw, "case_no")).strip()
        if not case_no:
            problem("case_no", "required")
        elif not CASE_NO_PATTERN.match(case_no):
            problem(
                "case_no",
                "1-64 letters, digits, '-' or '_', starting with a letter or digit",
                case_no,
            )
        elif case_no in self.seen_case_nos:
            problem("case_no", f"repeats the case number of row {self.seen_case_nos[case_no]}")
        else:
            self.seen_case_nos[case_no] = raw.number

        # chain
        chain: Chain | None = None
        chain_cell = self._cell(raw, "chain")
        try:
            if is_blank(chain_cell):
                if self.default_chain is None:
                    raise ValueError("required (or give --chain)")
                code = self.default_chain
            else:
                code = resolve_chain(chain_cell, self.layout.vocabulary.chains)
                if self.default_chain and code != self.default_chain:
                    raise ValueError(f"this row is {code} but --chain says {self.default_chain}")
            chain = registry.get_chain(code)
        except (ValueError, LookupError) as error:
            problem("chain", str(error).strip("'\""), chain_cell)

        # applicant
        name = cell_text(self._cell(raw, "applicant_name")).strip()
        if not name:
            problem("applicant_name", "required")
        else:
            try:
                check_name(name)
            except ValueError as error:
                problem("applicant_name", str(error))  # a name is personal data

        kind = self._kind(raw, chain, problem)
        id_cell = self._cell(raw, "id_number")
        id_number = ""
        if is_blank(id_cell):
            problem("id_number", "required")
        elif kind is not None:
            try:
                id_number = check_applicant_id(kind, cell_text(id_cell))
            except InvalidId as invalid:
                problem("id_number", _id_reason(str(invalid), id_cell), id_cell)

        phone = ""
        phone_cell = self._cell(raw, "phone")
        if not is_blank(phone_cell):
            try:
                phone = parse_phone(phone_cell)
            except ValueError as error:
                problem("phone", str(error), phone_cell)

        received_at: datetime | None = None
        received_cell = self._cell(raw, "received_at")
        if not is_blank(received_cell):
            try:
                received_at = parse_received_at(received_cell, now=self.now)
            except ValueError as error:
                problem("received_at", str(error))

        materials: list[str] = []
        materials_cell = self._cell(raw, "materials")
        if chain is not None and not is_blank(materials_cell):
            try:
                materials = parse_materials(materials_cell, chain)
            except ValueError as error:
                problem("materials", str(error))

        commitments: list[str] = []
        commitments_cell = self._cell(raw, "commitments")
        if chain is not None and not is_blank(commitments_cell):
            try:
                commitments = parse_materials(commitments_cell, chain)
            except ValueError as error:
                problem("commitments", str(error))
            allowed = {m.code for m in chain.materials if m.commitment}
            refused = [
                m.name for m in chain.materials if m.code in commitments and m.code not in allowed
            ]
            if refused:
                problem(
                    "commitments",
                    f"chain {chain.code} takes no commitment for: {'、'.join(refused)}",
                )
            both = [
                m.name for m in chain.materials if m.code in commitments and m.code in materials
            ]
            if both:
                problem("commitments", f"listed as brought in 材料 too: {'、'.join(both)}")

        form: dict[str, Any] = {}
        if chain is not None:
            form = self._form(raw, chain, problems)

        if problems or chain is None or kind is None:
            return
        try:
            row.request = self._request(
                case_no,
                chain,
                kind,
                name,
                id_number,
                phone,
                form,
                materials,
                commitments,
                received_at,
            )
        except ValidationError as invalid:  # the desk's own checks, should the above miss one
            for error in invalid.errors():
                reason = _pydantic_reason(dict(error), chain.code)
                problems.append(Problem(raw.number, "(row)", reason))

    def _request(
        self,
        case_no: str,
        chain: Chain,
        kind: str,
        name: str,
        id_number: str,
        phone: str,
        form: dict[str, Any],
        materials: list[str],
        commitments: list[str],
        received_at: datetime | None,
    ) -> CaseRequest:
        # A conditional material the row's form does not ask for is not part of the case.
        model = chain.form.model_validate(form)
        applies = {m.code for m in chain.materials if m.applies(model)}
        materials = [code for code in materials if code in applies]
        commitments = [code for code in commitments if code in applies]
        return CaseRequest(
            case_no=case_no,
            chain=chain.code,
            applicant=Applicant(kind=kind, name=name, id_number=id_number, phone=phone),  # type: ignore[arg-type]
            form=form,
            materials=materials,
            commitments=[
                Commitment(
                    material=code,
                    text=f"申请人{name}承诺：{chain.material(code).name}真实有效，"
                    "如有不实，愿承担相应法律责任（告知承诺制）",
                    signed_by=name,
                    signed_at=received_at or self.now,
                )
                for code in commitments
            ],
            received_at=received_at,
            accepted_by=self.actor,
        )

    def _kind(self, raw: RawRow, chain: Chain | None, problem: Any) -> str | None:
        cell = self._cell(raw, "applicant_kind")
        fixed = chain.applicant_kind if chain is not None else None
        if is_blank(cell):
            if fixed in ("person", "organisation"):
                return fixed
            if chain is None:
                return None
            problem(
                "applicant_kind",
                f"required for chain {chain.code} (个人/person or 单位/organisation)",
            )
            return None
        try:
            kind = parse_kind(cell)
        except ValueError as error:
            problem("applicant_kind", str(error), cell)
            return None
        if fixed in ("person", "organisation") and kind != fixed:
            problem("applicant_kind", f"chain {chain.code} takes only {fixed} applicants", cell)  # type: ignore[union-attr]
            return None
        return kind

    def _form(self, raw: RawRow, chain: Chain, problems: list[Problem]) -> dict[str, Any]:
        layout = self.layout
        columns = self._form_columns.get(chain.code)
        if columns is None:
            columns = self._form_columns[chain.code] = layout.form_columns(chain.code)
        mine = {c.index for cols in columns.values() for c in cols}
        for column in layout.columns:
            if column.form and column.index not in mine and not is_blank(raw.values[column.index]):
                problems.append(
                    Problem(
                        raw.number,
                        column.header,
                        f"not a field of chain {chain.code}; leave it blank in this row",
                        _truncate(cell_text(raw.values[column.index])),
                    )
                )
        data: dict[str, Any] = {}
        for name, cols in columns.items():
            spec = layout.vocabulary.fields[(chain.code, name)]
            filled = [(c, raw.values[c.index]) for c in cols if not is_blank(raw.values[c.index])]
            if not filled:
                continue
            column, value = filled[0]
            wrong_type = type_problem(value, spec.kind, self.file_format)
            if wrong_type is not None:
                problems.append(
                    Problem(raw.number, column.header, wrong_type, _truncate(cell_text(value)))
                )
                continue
            for other, other_value in filled[1:]:
                if cell_text(other_value).strip() != cell_text(value).strip():
                    problems.append(
                        Problem(raw.number, other.header, f"differs from column {column.header}")
                    )
            prepared = _form_value(spec, value)
            if spec.kind == "choice" and prepared not in spec.choices:
                allowed = ", ".join(f"{label} ({v})" for v, label in spec.choices.items())
                problems.append(
                    Problem(
                        raw.number,
                        column.header,
                        f"should be one of: {allowed}",
                        _truncate(cell_text(value)),
                    )
                )
                continue
            data[name] = prepared
        try:
            model = chain.validate_form(data)
        except ValidationError as invalid:
            known = {p.column for p in problems if p.row == raw.number}
            for error in invalid.errors():
                loc = error["loc"]
                header = (
                    layout.header_for_field(chain.code, str(loc[0]))
                    if loc and (chain.code, str(loc[0])) in layout.vocabulary.fields
                    else "(form)"
                )
                if header in known:
                    continue
                value = data.get(str(loc[0])) if loc else None
                problems.append(
                    Problem(
                        raw.number,
                        header,
                        _pydantic_reason(dict(error), chain.code),
                        _truncate(cell_text(value)),
                    )
                )
            return {}
        return model.model_dump(mode="json")


def _truncate(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(name: str, value: Any) -> str:
    text = cell_text(value).strip()
    if not text:
        return ""
    if name == "id_number":
        return mask_id_number(text)
    if name == "phone":
        return mask_phone(text)
    return _truncate(text)


def _id_reason(reason: str, cell: Any) -> str:
    text = cell_text(cell)
    if isinstance(cell, int | float) or "E+" in text.upper():
        reason += " — the cell looks like a number to Excel; format the column as text"
    return reason


def check_sheet(
    sheet: Sheet,
    layout: Layout,
    *,
    actor: Actor,
    default_chain: str | None = None,
    now: datetime | None = None,
    limits: ImportLimits | None = None,
) -> CheckedFile:
    """Check every row of ``sheet``; nothing is started here."""
    checker = RowChecker(
        layout,
        actor=actor,
        default_chain=default_chain,
        now=now,
        file_format=sheet.format,
        limits=limits,
    )
    return CheckedFile(sheet=sheet, layout=layout, rows=[checker.check(raw) for raw in sheet.rows])
