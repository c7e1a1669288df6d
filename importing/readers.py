"""Reading an import file into a header and numbered rows.

* **CSV** in UTF-8, UTF-8 with BOM, UTF-16 with BOM, or GBK/GB18030 as Chinese Excel
  saves it ("CSV (逗号分隔)"), detected with charset-normalizer unless an encoding is
  given; comma, tab or semicolon separated (whichever the header line uses most).
* **XLSX** (openpyxl, read-only): the first worksheet. A formula cell is kept as a
  :class:`Formula` and rejected by the checks (its cached value may be stale or
  missing; the import takes values only). A number shown with leading zeros (format
  ``000123``) is read as the text Excel shows.
* **JSON Lines**: one object per line; its keys are the headers; values keep their
  JSON types, so the checks can refuse an object where a name belongs.

What a file may cost is bounded (``importing.limits``): its size before reading, an
XLSX's declared unpacked size and part count before unzipping (``zipfile`` never
yields more than a part declares: a part that holds more fails its CRC check), and the
number of rows while reading. Cells that ``domain.text.spreadsheet_cell`` protected
with a leading ``'`` (onechain's own error files) lose exactly that ``'`` again.

Row numbers are the file's: the header is row 1 and blank rows still count, so a
problem reported for row 7 is row 7 in Excel. (JSON Lines has no header: row n is line n.)
Blank rows are dropped here.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

from domain.text import from_spreadsheet_cell
from importing.limits import HOW_TO_RAISE, ImportLimits, megabytes, over_limit

FileFormat = Literal["csv", "xlsx", "jsonl"]

_CHINESE_ENCODINGS = {"gb18030", "gbk", "gb2312", "hz", "big5", "big5hkscs", "cp950", "cp936"}
_FORMATS_BY_SUFFIX: dict[str, FileFormat] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


class UnreadableFile(Exception):
    """The file cannot be read at all (missing, not the format it claims, bad encoding)."""


class LimitExceeded(UnreadableFile):
    """The file costs more than an import limit allows (the message says which)."""


@dataclass(frozen=True)
class Formula:
    """An XLSX cell holding a formula (``=HYPERLINK(...)``), not a value."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class RawRow:
    number: int  # row in the file, header = 1
    values: list[Any]  # aligned with Sheet.headers (padded with "")
    extra: list[Any]  # cells beyond the header's width that were not blank
    problem: str = ""  # the row itself could not be parsed (JSON Lines)


@dataclass
class Sheet:
    headers: list[str]
    rows: list[RawRow]
    format: FileFormat
    encoding: str | None = None

    @property
    def last_row(self) -> int:
        return self.rows[-1].number if self.rows else 1


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: Any) -> str:
    """A cell as the text a person would type back (for error files and messages)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M")
        if value.second:
            text = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.tzinfo is not None:
            text = value.isoformat()
        return text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, list):
        return "；".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return str(value)


def detect_format(path: Path, head: bytes) -> FileFormat:
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise UnreadableFile(
            f"{path.name}: the old binary .xls format is not supported; "
            "save it as .xlsx or CSV (UTF-8) in Excel"
        )
    if suffix in _FORMATS_BY_SUFFIX:
        return _FORMATS_BY_SUFFIX[suffix]
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "jsonl"
    return "csv"


def read_file(
    path: Path, *, encoding: str | None = None, limits: ImportLimits | None = None
) -> Sheet:
    """Read ``path`` (format from its suffix, else from its first bytes)."""
    limits = limits or ImportLimits()
    try:
        if path.is_dir():
            raise UnreadableFile(f"{path} is a folder, not a file")
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise LimitExceeded(
                over_limit("the file", megabytes(size), f"{limits.max_file_mb:g} MB", "max_file_mb")
            )
        with path.open("rb") as handle:  # at most one byte over: /dev/zero, a pipe
            data = handle.read(limits.max_file_bytes + 1)
    except FileNotFoundError:
        raise UnreadableFile(f"{path}: no such file") from None
    except OSError as error:
        raise UnreadableFile(f"{path}: {error.strerror or error}") from None
    return read_bytes(data, name=path.name, encoding=encoding, limits=limits)


def read_bytes(
    data: bytes,
    *,
    name: str = "file",
    encoding: str | None = None,
    limits: ImportLimits | None = None,
) -> Sheet:
    """Read a file's bytes; the suffix of ``name`` (``in.csv``) decides the format."""
    limits = limits or ImportLimits()
    if len(data) > limits.max_file_bytes:
        raise LimitExceeded(
            f"the file is larger than the limit of {limits.max_file_mb:g} MB "
            f"(raise it with {HOW_TO_RAISE['max_file_mb']})"
        )
    if not data.strip():
        raise UnreadableFile(f"{name}: the file is empty")
    fmt = detect_format(Path(name), data[:64])
    if fmt == "xlsx":
        return read_xlsx(data, name=name, limits=limits)
    text, used = decode(data, encoding, name=name)
    if fmt == "jsonl":
        return read_jsonl(text, encoding=used, limits=limits)
    return read_csv(text, encoding=used, limits=limits)


def _too_many_rows(limits: ImportLimits) -> LimitExceeded:
    return LimitExceeded(
        f"the file has more than {limits.max_rows:,} rows, the limit (raise it with "
        f"{HOW_TO_RAISE['max_rows']}, or split the file)"
    )


# ------------------------------------------------------------------------- CSV


def decode(data: bytes, encoding: str | None = None, *, name: str = "file") -> tuple[str, str]:
    """The text of ``data`` and the encoding used.

    A BOM decides; otherwise strict UTF-8; otherwise charset-normalizer's best guess,
    where any Chinese code page is read as GB18030 (a superset of GBK and GB2312, so
    characters GBK lacks never turn into errors).
    """
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UnreadableFile(f"unknown encoding {encoding!r}") from None
        try:
            return data.decode(encoding).lstrip("\ufeff"), encoding
        except UnicodeDecodeError as error:
            raise UnreadableFile(
                f"{name} is not valid {encoding} (byte {error.start}); "
                "leave --encoding out to detect it"
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    candidates = [m.encoding for m in matches]
    best = matches.best()
    guess = best.encoding if best else None
    if guess in _CHINESE_ENCODINGS or "gb18030" in candidates or guess is None:
        guess = "gb18030"
    try:
        return data.decode(guess), guess
    except (UnicodeDecodeError, LookupError):
        raise UnreadableFile(
            f"{name}: cannot tell its text encoding; save it as CSV UTF-8 or pass "
            "--encoding (e.g. gb18030)"
        ) from None


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(
    text: str, *, encoding: str | None = None, limits: ImportLimits | None = None
) -> Sheet:
    limits = limits or ImportLimits()
    first_line = text.split("\n", 1)[0]
    # A long cell is a row problem (the cell limit), not an unreadable file.
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_file_bytes))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    records: list[list[Any]] = []
    filled = 0
    try:
        for record in reader:
            if any(not is_blank(v) for v in record):
                filled += 1
                if filled > limits.max_rows + 1:  # + the header
                    raise _too_many_rows(limits)
            records.append([from_spreadsheet_cell(v) for v in record])
    except csv.Error as error:
        raise UnreadableFile(f"not a readable CSV file: {error}") from None
    return _sheet(records, "csv", encoding)


def _sheet(records: list[list[Any]], fmt: FileFormat, encoding: str | None) -> Sheet:
    numbered = list(enumerate(records, start=1))
    while numbered and all(is_blank(v) for v in numbered[0][1]):
        numbered.pop(0)  # leading blank lines before the header
    if not numbered:
        raise UnreadableFile("the file has no header row")
    _, header = numbered[0]
    headers = [cell_text(h).strip().lstrip("\ufeff") for h in header]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise UnreadableFile("the file has no header row")
    width = len(headers)
    rows: list[RawRow] = []
    for number, record in numbered[1:]:
        values = list(record[:width]) + [""] * max(0, width - len(record))
        extra = [v for v in record[width:] if not is_blank(v)]
        if all(is_blank(v) for v in values) and not extra:
            continue
        rows.append(RawRow(number, values, extra))
    return Sheet(headers=headers, rows=rows, format=fmt, encoding=encoding)


# ------------------------------------------------------------------------ XLSX


def check_zip(data: bytes, *, name: str, limits: ImportLimits) -> None:
    """Refuse an XLSX whose zip declares too many parts or too many unpacked bytes,
    before anything is unpacked (a 3 MB file may declare 674 MB)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise UnreadableFile(f"{name} is not a readable .xlsx workbook ({error})") from None
    if len(parts) > limits.max_xlsx_parts:
        raise LimitExceeded(
            over_limit(
                "the number of parts in the workbook",
                f"{len(parts):,}",
                f"{limits.max_xlsx_parts:,}",
                "max_xlsx_parts",
            )
        )
    unpacked = sum(part.file_size for part in parts)
    if unpacked > limits.max_unpacked_bytes:
        raise LimitExceeded(
            over_limit(
                "the workbook's unpacked size",
                megabytes(unpacked),
                f"{limits.max_unpacked_mb:g} MB",
                "max_unpacked_mb",
            )
        )


def read_xlsx(data: bytes, *, name: str = "file", limits: ImportLimits | None = None) -> Sheet:
    limits = limits or ImportLimits()
    check_zip(data, name=name, limits=limits)
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many kinds for a broken workbook
        raise UnreadableFile(f"{name} is not a readable .xlsx workbook ({error})") from None
    records: list[list[Any]] = []
    filled = 0
    try:
        if not workbook.worksheets:
            raise UnreadableFile(f"{name} has no worksheet")
        for row in workbook.worksheets[0].iter_rows():
            record = [_xlsx_value(cell) for cell in row]
            if any(not is_blank(v) for v in record):
                filled += 1
                if filled > limits.max_rows + 1:  # + the header
                    raise _too_many_rows(limits)
            records.append(record)
    except UnreadableFile:
        raise
    except Exception as error:  # a part that fails its CRC, broken XML, ...
        raise UnreadableFile(f"{name} is not a readable .xlsx workbook ({error})") from None
    finally:
        workbook.close()
    return _sheet(records, "xlsx", None)


_ZERO_PADDED = re.compile(r"^0+$")


def _xlsx_value(cell: Any) -> Any:
    """A cell's value as the checks should see it (see the module docstring)."""
    value = getattr(cell, "value", None)
    if getattr(cell, "data_type", None) == "f":
        return Formula(str(value))
    if isinstance(value, str):
        return from_spreadsheet_cell(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        number_format = str(getattr(cell, "number_format", "") or "")
        if _ZERO_PADDED.match(number_format) and float(value).is_integer() and value >= 0:
            return str(int(value)).zfill(len(number_format))
    return value


# ------------------------------------------------------------------ JSON Lines


def read_jsonl(
    text: str, *, encoding: str | None = None, limits: ImportLimits | None = None
) -> Sheet:
    """Headers are the keys in order of first appearance; a ``form`` object's keys
    count as columns too. A line that is not a JSON object is a row problem."""
    limits = limits or ImportLimits()
    headers: list[str] = []
    parsed: list[tuple[int, dict[str, Any] | None, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(parsed) >= limits.max_rows:
            raise _too_many_rows(limits)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            parsed.append((number, None, f"not valid JSON: {error.msg} (column {error.colno})"))
            continue
        except RecursionError:
            parsed.append((number, None, "not valid JSON: nested too deeply"))
            continue
        except ValueError as error:  # e.g. an integer of more than 4,300 digits
            parsed.append((number, None, f"not valid JSON: {str(error).split(';')[0]}"))
            continue
        if not isinstance(obj, dict):
            parsed.append((number, None, "not a JSON object"))
            continue
        form = obj.pop("form", None)
        if isinstance(form, dict):
            obj = {**obj, **form}
        elif form is not None:
            obj["form"] = form  # reported as a column of the wrong type
        for key in obj:
            if key not in headers:
                headers.append(key)
        parsed.append((number, obj, ""))
    if not parsed:
        raise UnreadableFile("the file has no JSON lines")
    rows: list[RawRow] = []
    for number, obj, problem in parsed:
        values = [(obj or {}).get(h, "") for h in headers]
        if obj is not None and all(is_blank(v) for v in values):
            continue
        rows.append(RawRow(number, values, [], problem))
    return Sheet(headers=headers, rows=rows, format="jsonl", encoding=encoding)
