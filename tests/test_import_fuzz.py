"""Fuzzing the import readers and checks with hypothesis (no server: fast).

Whatever the bytes — CSV in UTF-8, UTF-8 with BOM, GBK or UTF-16, XLSX workbooks built
on the fly (text, numbers, booleans, dates, formulas, odd number formats) or broken
ones, JSON Lines with any JSON values — the import:

* never raises anything but a file error (``UnreadableFile``/``HeaderError``, with a
  message);
* reports every rejection as a problem naming a row (the file's) and a column;
* lets through only rows the desk itself accepts (``client.facade.prepare_start``, the same
  checks a start runs) — so nothing is half-started: a row is either refused before
  anything starts or a complete, valid start;
* writes an error file that reads back without error.

``max_examples`` is bounded so the suite stays fast; for a long run use
``HYPOTHESIS_PROFILE=fuzz-long pytest tests/test_import_fuzz.py``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.facade import prepare_start
from domain.roles import Actor, Role
from importing.columns import HeaderError, resolve_headers
from importing.errorfile import write_errors
from importing.limits import ImportLimits
from importing.readers import UnreadableFile, read_bytes
from importing.validate import CheckedFile, check_sheet

settings.register_profile(
    "default",
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz-long",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "docs" / "samples" / "import-sample.csv"
CLERK = Actor(user_id="c1", name="窗口", role=Role.WINDOW_CLERK)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
#: Small limits, so the fuzzer reaches them too.
LIMITS = ImportLimits(max_rows=40, max_cell_chars=300, max_file_mb=2, max_unpacked_mb=5)

with SAMPLE.open(encoding="utf-8-sig", newline="") as _handle:
    _SAMPLE = list(csv.reader(_handle))
SAMPLE_HEADERS: list[str] = _SAMPLE[0]
SAMPLE_ROWS: list[list[str]] = _SAMPLE[1:]
SAMPLE_CELLS = sorted({cell for row in SAMPLE_ROWS for cell in row if cell})
ENGLISH_HEADERS = ["case_no", "chain", "applicant_name", "id_number", "phone", "received_at"]

# --------------------------------------------------------------- strategies

nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(
        [
            '=HYPERLINK("http://evil.example","x")',
            "'=1+1",
            "+86 138",
            "-5",
            "@SUM(A1)",
            "[/bold]",
            "[link=http://evil.example/]x[/link]",
            "\x1b[2J",
            "\u202eexe.txt",
            "2026-02-30 10:00",
            "1e400",
            "NaN",
            "是",
            "0",
            "",
            " ",
            "；；",
            "个人",
            "单位",
        ]
    ),
    st.text(min_size=290, max_size=320),  # around the cell limit
)
cell_text = st.one_of(st.sampled_from(SAMPLE_CELLS), nasty_text)
header_text = st.one_of(
    st.sampled_from(SAMPLE_HEADERS), st.sampled_from(ENGLISH_HEADERS), nasty_text
)


@st.composite
def tables(draw: st.DrawFn) -> list[list[str]]:
    """A header and rows: mostly the sample's (so some rows are valid), mutated."""
    headers = draw(
        st.one_of(
            st.just(list(SAMPLE_HEADERS)),
            st.lists(header_text, min_size=1, max_size=12),
        )
    )
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        base = list(draw(st.sampled_from(SAMPLE_ROWS)))
        base = (base + [""] * len(headers))[: len(headers) + draw(st.integers(0, 2))]
        for _ in range(draw(st.integers(0, 4))):
            if base:
                base[draw(st.integers(0, len(base) - 1))] = draw(cell_text)
        rows.append(base)
    return [headers, *rows]


def csv_encoded(table: list[list[str]], encoding: str, delimiter: str) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows(table)
    return buffer.getvalue().encode(encoding, errors="replace")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | cell_text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append(draw(st.text(max_size=30)))  # not JSON, or not an object
            continue
        if kind == 2:  # raw JSON the encoder would never write
            literal = draw(
                st.sampled_from(
                    ["1" * 5000, "1e400", "-1e400", "NaN", "-0", "1E-400", "[" * 5000, r'"\ud800"']
                )
            )
            lines.append(f'{{"案件编号": "A-1", "申请人": {literal}, "事项": "company"}}')
            continue
        row = dict(zip(SAMPLE_HEADERS, draw(st.sampled_from(SAMPLE_ROWS)), strict=False))
        row = {k: v for k, v in row.items() if v}
        for _ in range(draw(st.integers(0, 4))):
            key = draw(st.one_of(st.sampled_from(SAMPLE_HEADERS), st.text(max_size=8)))
            row[key] = draw(json_values)
        if kind == 1:
            row = {"form": row}
        lines.append(json.dumps(row, ensure_ascii=draw(st.booleans())))
    return ("\n".join(lines) + "\n").encode("utf-8")


xlsx_cells = st.one_of(
    cell_text,
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)),
    st.dates(min_value=date(1900, 3, 1), max_value=date(2100, 1, 1)),
    st.sampled_from(["=1+1", '=HYPERLINK("http://evil.example","x")', "=A1&B1"]),
)


@st.composite
def xlsx_files(draw: st.DrawFn) -> bytes:
    from openpyxl import Workbook
    from openpyxl.utils.exceptions import IllegalCharacterError

    table = draw(tables())
    workbook = Workbook()
    sheet = workbook.active
    for r, row in enumerate(table, start=1):
        for c, value in enumerate(row, start=1):
            if r > 1 and draw(st.integers(0, 3)) == 0:
                value = draw(xlsx_cells)
            try:
                cell = sheet.cell(row=r, column=c, value=value)
            except IllegalCharacterError:
                cell = sheet.cell(row=r, column=c, value="x")
            if isinstance(value, int | float) and draw(st.booleans()):
                cell.number_format = draw(st.sampled_from(["000000", "@", "0.00", "General"]))
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    if draw(st.integers(0, 9)) == 0:  # a broken workbook
        # Drawn independently of the length: a saved workbook carries the time of day.
        at = draw(st.integers(0, 2**20)) % len(data)
        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    return data


# ------------------------------------------------------------------ the check


def run_import_checks(data: bytes, name: str, *, chain_given: bool = False) -> None:
    try:
        sheet = read_bytes(data, name=name, limits=LIMITS)
        layout = resolve_headers(sheet.headers, chain_given=chain_given)
    except (UnreadableFile, HeaderError) as refused:
        assert str(refused).strip()
        return
    checked = check_sheet(
        sheet,
        layout,
        actor=CLERK,
        now=NOW,
        limits=LIMITS,
        default_chain="company" if chain_given else None,
    )
    assert_well_formed(checked)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "errors.csv"
        write_errors(out, sheet, [(r.raw, r.reason) for r in checked.invalid_rows], LIMITS)
        again = read_bytes(out.read_bytes(), name="errors.csv", limits=LIMITS)
        assert len(again.rows) == len(checked.invalid_rows) or not checked.invalid_rows


def assert_well_formed(checked: CheckedFile) -> None:
    numbers = [r.raw.number for r in checked.rows]
    assert numbers == sorted(set(numbers)) and all(n >= 1 for n in numbers)
    for row in checked.rows:
        assert row.valid != bool(row.problems), row
        for problem in row.problems:
            assert problem.row == row.raw.number
            assert problem.column.strip() and problem.reason.strip()
        if row.valid:
            assert row.request is not None
            prepare_start(row.request)  # the desk accepts every row the import lets through


@given(table=tables(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16"]))
def test_csv_in_any_encoding(table: list[list[str]], encoding: str) -> None:
    run_import_checks(csv_encoded(table, encoding, ","), "fuzz.csv")


@given(table=tables(), delimiter=st.sampled_from([",", "\t", ";"]), chain=st.booleans())
def test_csv_separators_and_a_given_chain(
    table: list[list[str]], delimiter: str, chain: bool
) -> None:
    run_import_checks(csv_encoded(table, "utf-8", delimiter), "fuzz.csv", chain_given=chain)


@given(data=st.binary(max_size=400), name=st.sampled_from(["f.csv", "f.jsonl", "f.xlsx", "f"]))
def test_random_bytes(data: bytes, name: str) -> None:
    run_import_checks(data, name)


@given(data=jsonl_files())
def test_json_lines(data: bytes) -> None:
    run_import_checks(data, "fuzz.jsonl")


@settings(max_examples=settings.default.max_examples // 2)  # each example builds a workbook
@given(data=xlsx_files())
def test_xlsx_built_on_the_fly(data: bytes) -> None:
    run_import_checks(data, "fuzz.xlsx")


def test_the_sample_file_passes_the_same_checks() -> None:
    """The fuzzer's seed rows are valid: the properties above are not vacuous."""
    sheet = read_bytes(SAMPLE.read_bytes(), name=SAMPLE.name)
    checked = check_sheet(
        sheet, resolve_headers(sheet.headers, chain_given=False), actor=CLERK, now=NOW
    )
    assert checked.valid_rows and not checked.problems
    assert_well_formed(checked)
