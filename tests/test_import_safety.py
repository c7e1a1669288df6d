"""Hostile import files, without a server: control characters and implausible names,
values of the wrong type (JSON Lines and XLSX), formula cells, the limits on what a
file may cost (size, rows, cells, an XLSX zip bomb), and the error files onechain
writes (no live formulas, never over the limits, importable again)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from domain.roles import Actor, Role
from domain.text import from_spreadsheet_cell, spreadsheet_cell, visible
from importing.columns import resolve_headers
from importing.errorfile import write_errors
from importing.limits import ImportLimits
from importing.readers import LimitExceeded, UnreadableFile, read_bytes, read_file
from importing.validate import CheckedFile, check_sheet

CLERK = Actor(user_id="c1", name="窗口", role=Role.WINDOW_CLERK)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PERSON_ID = "370828199707268356"
HEADERS = [
    "case_no",
    "chain",
    "applicant_name",
    "applicant_kind",
    "id_number",
    "phone",
    "company_name",
    "address",
    "registered_capital_wan",
    "business_scope",
    "bank",
]


def company(case_no: str, **cells: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "case_no": case_no,
        "chain": "company",
        "applicant_name": "王伟",
        "applicant_kind": "person",
        "id_number": PERSON_ID,
        "phone": "13812345678",
        "company_name": "济宁市彩虹文化传媒有限公司",
        "address": "济宁市梁山县崇文大道 33 号",
        "registered_capital_wan": "500",
        "business_scope": "文化艺术交流活动",
        "bank": "济宁银行",
    }
    return {**base, **cells}


def csv_bytes(rows: list[dict[str, Any]], headers: list[str] = HEADERS) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows([row.get(h, "") for h in headers] for row in rows)
    return buffer.getvalue().encode("utf-8")


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def xlsx_bytes(rows: list[list[Any]], formats: dict[str, str] | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    for cell, number_format in (formats or {}).items():
        sheet[cell].number_format = number_format
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def check(data: bytes, name: str, limits: ImportLimits | None = None) -> CheckedFile:
    sheet = read_bytes(data, name=name, limits=limits)
    layout = resolve_headers(sheet.headers, chain_given=False)
    return check_sheet(sheet, layout, actor=CLERK, now=NOW, limits=limits)


def problems(checked: CheckedFile) -> dict[tuple[int, str], str]:
    return {(p.row, p.column): p.reason for p in checked.problems}


# ------------------------------------------------------ control characters, names


def test_control_characters_are_refused_naming_row_and_column() -> None:
    rows = [
        company("OK-1"),
        company("CC-1", applicant_name="王\x1b]0;pwned\x07伟"),
        company("CC-2", address="济宁市\u202eexe.txt"),
        company("CC-3", business_scope="文化\x9b2J交流"),
        company("CC-4", bank="济宁\r\n银行"),
    ]
    checked = check(csv_bytes(rows), "in.csv")
    found = problems(checked)
    assert [r.request.case_no for r in checked.valid_rows] == ["OK-1"]  # type: ignore[union-attr]
    assert "control character (U+001B) at character 2" in found[(3, "applicant_name")]
    assert "bidi control (U+202E)" in found[(4, "address")]
    assert "U+009B" in found[(5, "business_scope")]
    assert "line break" in found[(6, "bank")]
    # The cell is refused once: no follow-up "required" for the blanked cell.
    assert [p.column for p in checked.problems if p.row == 3] == ["applicant_name"]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ('=HYPERLINK("http://x","y")', "may not start with '='"),
        ("+8613800138000", "may not start with '+'"),
        ("-王伟", "may not start with '-'"),
        ("@王伟", "may not start with '@'"),
        ("！！！……", "no letter or digit"),
        ("王" * 101, "at most 100 characters"),
    ],
)
def test_implausible_names_are_refused(name: str, words: str) -> None:
    checked = check(csv_bytes([company("N-1", applicant_name=name)]), "in.csv")
    assert words in problems(checked)[(2, "applicant_name")]


@pytest.mark.parametrize(
    "name", ["[/bold]", "[link=http://evil.example/]阳光公司[/link]", "王伟 (Wang Wei)"]
)
def test_markup_in_a_name_is_just_text(name: str) -> None:
    """Brackets are no reason to refuse a name; every screen shows it as typed."""
    checked = check(csv_bytes([company("M-1", applicant_name=name)]), "in.csv")
    assert checked.problems == []
    assert checked.valid_rows[0].request.applicant.name == name  # type: ignore[union-attr]


# --------------------------------------------------------------------- types


def test_jsonl_values_of_the_wrong_type_are_row_errors() -> None:
    rows = [
        company("J-1", applicant_name={"first": "张", "last": "三"}),
        company(["J", "2"]),
        company("J-3", registered_capital_wan=True),
        company("J-4", phone=13812345678),
        company("J-5", business_scope=["文化", "艺术"]),
        company("J-6", registered_capital_wan=500, materials=["application", 3]),
        company("J-7", registered_capital_wan=500),
    ]
    checked = check(jsonl_bytes(rows), "in.jsonl")
    found = problems(checked)
    assert found[(1, "applicant_name")] == "expected text, got an object"
    assert found[(2, "case_no")] == "expected text, got a list"
    assert found[(3, "registered_capital_wan")] == "expected a number, got the boolean true"
    assert found[(4, "phone")] == "expected text, got the number 13812345678 (write it in quotes)"
    assert found[(5, "business_scope")] == "expected text, got a list"
    assert "list holding other values" in found[(6, "materials")]
    assert [r.request.case_no for r in checked.valid_rows] == ["J-7"]  # type: ignore[union-attr]
    assert checked.valid_rows[0].request.form["registered_capital_wan"] == 500  # type: ignore[union-attr]


def test_jsonl_non_finite_numbers_are_refused() -> None:
    line = json.dumps(company("J-8"), ensure_ascii=False).replace('"500"', "Infinity")
    checked = check(line.encode(), "in.jsonl")
    assert "got the number inf" in problems(checked)[(1, "registered_capital_wan")]


def test_xlsx_dates_booleans_formulas_and_zero_padded_numbers() -> None:
    values = company("X-0")
    header = HEADERS
    good = [values[h] for h in header]
    good[0] = 123  # a case number typed as a number, shown as 000123 by its format
    dated = [*good]
    dated[0], dated[2] = "X-2", datetime(2026, 1, 1, 9, 0)
    boolean = [*good]
    boolean[0], boolean[7] = "X-3", True
    formula = [*good]
    formula[0], formula[2] = "X-4", '=HYPERLINK("http://evil.example","点这里")'
    data = xlsx_bytes([header, good, dated, boolean, formula], formats={"A2": "000000"})
    checked = check(data, "in.xlsx")
    found = problems(checked)
    assert [r.request.case_no for r in checked.valid_rows] == ["000123"]  # type: ignore[union-attr]
    assert found[(3, "applicant_name")] == "expected text, got a date"
    assert found[(4, "address")] == "expected text, got the boolean true"
    assert "a formula; the import takes values only" in found[(5, "applicant_name")]


# -------------------------------------------------------------------- limits


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(csv_bytes([company(f"S-{i}") for i in range(200)]))
    with pytest.raises(LimitExceeded) as refused:
        read_file(path, limits=ImportLimits(max_file_mb=0.01))
    message = str(refused.value)
    size = path.stat().st_size
    assert f"the file is {size / 1e6:.2f} MB ({size:,} bytes), more than the limit of 0.01 MB" in (
        message
    )
    assert "--max-file-mb or ONECHAIN_IMPORT_MAX_FILE_MB" in message


def test_a_file_without_a_size_is_read_no_further_than_the_limit() -> None:
    """/dev/zero has no size to check first: reading stops one byte past the limit."""
    with pytest.raises(LimitExceeded, match=r"larger than the limit of 0\.5 MB"):
        read_file(Path("/dev/zero"), limits=ImportLimits(max_file_mb=0.5))


@pytest.mark.parametrize("name", ["in.csv", "in.jsonl", "in.xlsx"])
def test_too_many_rows_is_refused(name: str) -> None:
    rows = [company(f"R-{i}") for i in range(5)]
    if name.endswith(".csv"):
        data = csv_bytes(rows)
    elif name.endswith(".jsonl"):
        data = jsonl_bytes(rows)
    else:
        data = xlsx_bytes([HEADERS, *([r[h] for h in HEADERS] for r in rows)])
    assert len(check(data, name, ImportLimits(max_rows=5)).rows) == 5
    with pytest.raises(LimitExceeded) as refused:
        check(data, name, ImportLimits(max_rows=4))
    assert "the file has more than 4 rows, the limit" in str(refused.value)
    assert "--max-rows or ONECHAIN_IMPORT_MAX_ROWS" in str(refused.value)


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONECHAIN_IMPORT_MAX_ROWS", "7")
    monkeypatch.setenv("ONECHAIN_IMPORT_MAX_CELL_CHARS", "99")
    limits = ImportLimits.from_environment(max_cell_chars=None, max_file_mb=3)
    assert (limits.max_rows, limits.max_cell_chars, limits.max_file_mb) == (7, 99, 3)
    with pytest.raises(ValueError, match="max_rows must be more than 0"):
        ImportLimits(max_rows=0)


def test_a_5_mb_cell_is_a_row_error_and_the_error_file_stays_importable(
    tmp_path: Path,
) -> None:
    huge = "文" * 5_000_000
    rows = [company("L-1"), company("L-2", business_scope=huge)]
    checked = check(jsonl_bytes(rows), "in.jsonl")
    found = problems(checked)
    assert "5,000,000 characters, more than the limit of 4,000" in found[(2, "business_scope")]
    assert "--max-cell-chars" in found[(2, "business_scope")]
    assert [r.request.case_no for r in checked.valid_rows] == ["L-1"]  # type: ignore[union-attr]

    out = tmp_path / "errors.csv"
    written = write_errors(out, checked.sheet, [(r.raw, r.reason) for r in checked.invalid_rows])
    assert written == 1 and out.stat().st_size < 100_000
    again = check(out.read_bytes(), "errors.csv")
    # The cut cell fits the cell limit (the form's own 2,000 still applies: fix the text).
    assert not [p for p in again.problems if "max-cell-chars" in p.reason]
    assert again.rows[0].raw.values[HEADERS.index("business_scope")].endswith("…")


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_an_xlsx_zip_bomb_is_refused_before_anything_is_unpacked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml": bytes(60_000_000)})
    assert len(bomb) < 100_000  # 60 MB of zeros packs into a few dozen kB

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("openpyxl must not open a refused workbook")

    monkeypatch.setattr("openpyxl.load_workbook", never)
    with pytest.raises(LimitExceeded) as refused:
        read_bytes(bomb, name="bomb.xlsx", limits=ImportLimits(max_unpacked_mb=50))
    message = str(refused.value)
    assert "the workbook's unpacked size is 60.0 MB, more than the limit of 50 MB" in message
    assert "--max-unpacked-mb or ONECHAIN_IMPORT_MAX_UNPACKED_MB" in message

    many = _zip({f"xl/part{i}.xml": b"<x/>" for i in range(30)})
    with pytest.raises(LimitExceeded, match="number of parts in the workbook is 30"):
        read_bytes(many, name="many.xlsx", limits=ImportLimits(max_xlsx_parts=20))


def test_an_xlsx_part_that_holds_more_than_it_declares_is_unreadable() -> None:
    """The declared sizes bound what is unpacked: zipfile stops at a part's declared
    size and the CRC check fails, so a lying zip is refused, not unpacked."""
    import struct

    good = xlsx_bytes([HEADERS, [company("Z-1")[h] for h in HEADERS]])
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        parts = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    sheet_name = "xl/worksheets/sheet1.xml"
    parts[sheet_name] = parts[sheet_name].replace(
        b"</sheetData>", b" " * 5_000_000 + b"</sheetData>"
    )
    data = bytearray(_zip(parts))
    # Declare the sheet 100 bytes long, in its local header and the central directory.
    name = sheet_name.encode()
    local = data.find(b"PK\x03\x04")
    while local != -1:
        if data[local + 30 : local + 30 + len(name)] == name:
            struct.pack_into("<I", data, local + 22, 100)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        if data[central + 46 : central + 46 + len(name)] == name:
            struct.pack_into("<I", data, central + 24, 100)
        central = data.find(b"PK\x01\x02", central + 4)
    with pytest.raises(UnreadableFile, match=r"not a readable \.xlsx"):
        read_bytes(bytes(data), name="liar.xlsx")


# ----------------------------------------------------------- the error files


HOSTILE = {
    "applicant_name": '=HYPERLINK("http://evil.example","点我")',
    "address": "+cmd|' /C calc'!A0",
    "business_scope": "-2+3",
    "bank": "@SUM(1+1)",
}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_error_files_hold_no_live_formula_and_import_again(tmp_path: Path, suffix: str) -> None:
    rows = [company("F-1", **HOSTILE), company("F-2", phone="\t=1+1", applicant_name="王\x1b伟")]
    checked = check(csv_bytes(rows), "in.csv")
    assert len(checked.invalid_rows) == 2
    out = tmp_path / f"errors{suffix}"
    write_errors(out, checked.sheet, [(r.raw, r.reason) for r in checked.invalid_rows])

    if suffix == ".csv":
        records = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    else:
        from openpyxl import load_workbook

        workbook = load_workbook(out)  # not read-only: data types are checked below
        sheet = workbook.worksheets[0]
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
        records = [
            [c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)
        ]
    header, first, second = records
    assert header == [*HEADERS, "reason"]
    for cell in [*first, *second]:
        assert not str(cell).startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert first[HEADERS.index("applicant_name")] == "'" + HOSTILE["applicant_name"]
    assert second[HEADERS.index("applicant_name")] == "王\\x1b伟"  # visible, not an escape

    # Imported again as it is, every neutralised cell reads as the original text.
    again = check(out.read_bytes(), out.name)
    for column, text in HOSTILE.items():
        assert again.rows[0].raw.values[HEADERS.index(column)] == text
    # A tab is refused anyway; the file shows where it was, and it is no formula.
    assert again.rows[1].raw.values[HEADERS.index("phone")] == "\\x09=1+1"


def test_spreadsheet_cell_round_trip() -> None:
    for text in ["=1+1", "+86", "-5", "@x", "\tx", "\rx", "plain", "'quoted", "", "'"]:
        assert from_spreadsheet_cell(spreadsheet_cell(text)) == text
    assert spreadsheet_cell("=1") == "'=1" and spreadsheet_cell("1=1") == "1=1"
    assert visible("a\x1bb\u202ec") == "a\\x1bb\\u202ec"


def test_report_csv_neutralises_cells(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.app import app
    from domain.projection import ProjectionBatch
    from readmodel.database import create_read_model, ready_engine
    from readmodel.projection import project
    from tests.test_cli_cases import environment
    from tests.test_cli_report import case_row

    url = f"sqlite:///{tmp_path / 'readmodel.sqlite3'}"
    create_read_model(url)  # as `onechain db upgrade`
    engine = ready_engine(url)
    project(
        engine,
        ProjectionBatch(
            case=case_row("Q1", "=cmd|calc", "running", "2026-03-02"), tasks=[], events=[]
        ),
    )
    target = tmp_path / "report.csv"
    with environment(ONECHAIN_DATABASE_URL=url):
        result = CliRunner().invoke(app, ["report", "--csv", str(target)])
    assert result.exit_code == 0, result.output
    with target.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert "'=cmd|calc" in {row["code"] for row in rows}
    assert not any(str(v).startswith("=") for row in rows for v in row.values())


def test_unsafe_characters_are_exactly_controls_bidi_separators_and_surrogates() -> None:
    import sys
    import unicodedata

    from domain.text import BIDI_CONTROLS, LINE_SEPARATORS, unsafe_character

    for code in range(sys.maxunicode + 1):
        char = chr(code)
        expected = (
            unicodedata.category(char) in ("Cc", "Cs")
            or char in BIDI_CONTROLS
            or char in LINE_SEPARATORS
        )
        assert (unsafe_character(char) is not None) == expected, hex(code)


def test_json_that_python_cannot_hold_is_a_row_problem() -> None:
    lines = [
        '{"case_no": ' + "1" * 5000 + "}",  # more digits than Python converts
        '{"case_no": ' + "[" * 100_000 + "}",  # nested deeper than the parser goes
        json.dumps(company("A-1"))[:-1] + ', "applicant_name": "\\ud800"}',  # lone surrogate
    ]
    checked = check("\n".join(lines).encode(), "in.jsonl")
    found = problems(checked)
    assert "4300 digits" in found[(1, "(row)")]
    assert found[(2, "(row)")].startswith("not valid JSON")
    assert "U+D800" in found[(3, "applicant_name")]
