"""The importer's parts without a server: readers and encodings, single-value checks,
the starter's stop and unreachable handling (with a fake desk), the generated docs and
the sample file."""

from __future__ import annotations

import asyncio
import codecs
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode

from client.facade import CaseAlreadyExists, CaseRequest, InvalidApplication
from domain.case import Applicant
from domain.roles import Actor, Role
from domain.timezone import CST
from importing.columns import HeaderError, build_vocabulary, resolve_headers
from importing.readers import UnreadableFile, decode, read_file
from importing.starter import start_cases
from importing.validate import (
    check_sheet,
    parse_materials,
    parse_phone,
    parse_received_at,
)
from simulator import people
from workflows import registry

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "docs" / "samples" / "import-sample.csv"
CLERK = Actor(user_id="c1", name="窗口", role=Role.WINDOW_CLERK)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    text = (
        "案件编号,事项,申请人\r\nA1,我要开饭店,王伟\r\nA2,企业开办,济宁市彩虹文化传媒有限公司\r\n"
    )
    path = tmp_path / "in.csv"
    path.write_bytes(text.encode(encoding))
    sheet = read_file(path)
    assert sheet.headers == ["案件编号", "事项", "申请人"]
    assert [r.values for r in sheet.rows] == [
        ["A1", "我要开饭店", "王伟"],
        ["A2", "企业开办", "济宁市彩虹文化传媒有限公司"],
    ]


def test_explicit_encoding_and_wrong_encoding() -> None:
    data = "案件编号\nA1\n".encode("gbk")
    assert decode(data, "gb18030")[0].startswith("案件编号")
    with pytest.raises(UnreadableFile, match="not valid utf-8"):
        decode(data, "utf-8")
    with pytest.raises(UnreadableFile, match="unknown encoding"):
        decode(data, "klingon")


def test_blank_rows_keep_file_numbers_and_tabs_work(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("case_no\tchain\n\nA1\tcompany\n \t \nA2\tcompany\textra\n", encoding="utf-8")
    sheet = read_file(path)
    assert [r.number for r in sheet.rows] == [3, 5]
    assert sheet.rows[1].extra == ["extra"]


def test_unreadable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("  \n")
    with pytest.raises(UnreadableFile, match="empty"):
        read_file(empty)
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(UnreadableFile, match=r"\.xls"):
        read_file(old)
    fake = tmp_path / "fake.xlsx"
    fake.write_text("not a zip")
    with pytest.raises(UnreadableFile, match=r"not a readable \.xlsx"):
        read_file(fake)
    with pytest.raises(UnreadableFile, match="folder"):
        read_file(tmp_path)


def test_headers_resolve_in_english_chinese_and_full_width() -> None:
    vocab = build_vocabulary()
    layout = resolve_headers(
        [
            "Case_No",
            "事项",
            "申请人",
            " 证件号码 ",
            "建筑面积（平方米）",
            "营业面积",
            "seats",
            "序号",
            "乱码",
        ],
        chain_given=False,
        vocabulary=vocab,
    )
    kinds = [(c.common, c.form, c.ignored) for c in layout.columns]
    assert kinds[0][0] == "case_no" and kinds[3][0] == "id_number"
    # A label may be shared by chains whose fields mean the same; each maps its own.
    assert kinds[4][1]["kindergarten"] == "floor_area_m2"
    assert kinds[5][1]["restaurant"] == "floor_area_m2"
    assert kinds[6][1]["restaurant"] == "seats"
    assert kinds[7][2] is True
    assert layout.unknown_headers == ["乱码"]
    with pytest.raises(HeaderError, match="both mean case_no"):
        resolve_headers(["案件编号", "case_no", "申请人", "证件号码", "事项"], chain_given=False)
    with pytest.raises(HeaderError, match="事项 \\(chain\\)"):
        resolve_headers(["案件编号", "申请人", "证件号码"], chain_given=False)
    resolve_headers(["案件编号", "申请人", "证件号码"], chain_given=True)


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-30 09:30", datetime(2026, 9, 30, 9, 30, tzinfo=CST)),
        ("2026/9/30 9:05", datetime(2026, 9, 30, 9, 5, tzinfo=CST)),
        ("2026年9月30日 9:05", datetime(2026, 9, 30, 9, 5, tzinfo=CST)),
        ("2026-09-30T01:30:00Z", datetime(2026, 9, 30, 1, 30, tzinfo=UTC)),
        ("2026-09-30T09:30:00+08:00", datetime(2026, 9, 30, 9, 30, tzinfo=CST)),
        ("2026-09-30", datetime(2026, 9, 30, tzinfo=CST)),
    ],
)
def test_received_at_formats(text: str, expected: datetime) -> None:
    assert parse_received_at(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-02-30 09:00", "not a real date"),
        ("2026-09-30 25:00", "not a real date"),
        ("30/09/2026", "not a time like"),
        ("2027-01-01 09:00", "in the future"),
        ("1999-12-31", "before 2000"),
    ],
)
def test_received_at_problems(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_received_at(text, now=NOW)


def test_excel_date_cells_are_china_time() -> None:
    assert (
        parse_received_at(datetime(2026, 9, 30, 9, 30), now=NOW).utcoffset().total_seconds()
        == 8 * 3600
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0537-2345678", "0537-2345678"),
        ("05372345678", "0537-2345678"),
        ("010-12345678-123", "010-12345678-123"),
    ],
)
def test_phones(text: str, expected: str) -> None:
    assert parse_phone(text) == expected


@pytest.mark.parametrize("text", ["12345", "23812345678", "1381234567", "abc", "0537-12"])
def test_implausible_phones(text: str) -> None:
    with pytest.raises(ValueError, match="not a mobile number"):
        parse_phone(text)


def test_materials_by_code_or_name_even_with_separators_inside_names() -> None:
    company = registry.get_chain("company")
    assert parse_materials("application、董事、监事、经理任职文件；charter", company) == [
        "application",
        "officers",
        "charter",
    ]
    restaurant = registry.get_chain("restaurant")
    name = "主体资格证明（营业执照；新设立的提交名称自主申报告知书）"
    assert parse_materials(f"{name};operator_id", restaurant) == ["entity_proof", "operator_id"]
    with pytest.raises(ValueError, match="not a material of chain company: 营业执照"):
        parse_materials("application；营业执照", company)


def test_every_problem_of_a_row_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "案件编号,事项,申请人,申请人类型,证件号码,联系电话,企业名称,企业类型,注册资本\n"
        "bad no!,company,,外星人,123,1,小店,合伙企业,-5\n",
        encoding="utf-8",
    )
    sheet = read_file(path)
    checked = check_sheet(
        sheet, resolve_headers(sheet.headers, chain_given=False), actor=CLERK, now=NOW
    )
    columns = {p.column for p in checked.problems}
    assert {"案件编号", "申请人", "申请人类型", "联系电话", "企业类型", "注册资本"} <= columns
    assert {"住所", "经营范围", "开户银行"} <= columns  # required fields without a column
    choice = next(p for p in checked.problems if p.column == "企业类型")
    assert "有限责任公司 (limited_liability)" in choice.reason


# ---------------------------------------------------------------- starting


class FakeDesk:
    """Starts after a short delay; can refuse, say exists, or fail as unreachable."""

    def __init__(self, *, exists: set[str] = frozenset(), down_after: int | None = None) -> None:
        self.started: list[str] = []
        self.exists = exists
        self.down_after = down_after
        self.in_flight = 0
        self.most_in_flight = 0

    async def start_case(self, request: CaseRequest) -> Any:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            if self.down_after is not None and len(self.started) >= self.down_after:
                raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")
            if request.case_no in self.exists:
                raise CaseAlreadyExists(f"case {request.case_no} already exists")
            if request.case_no.endswith("BAD"):
                raise InvalidApplication("form for chain company: nope")
            self.started.append(request.case_no)
        finally:
            self.in_flight -= 1


def requests(n: int) -> list[tuple[int, CaseRequest]]:
    applicant = Applicant(
        kind="person", name="王伟", id_number=people.resident_id(random.Random(1))
    )
    return [
        (
            i + 2,
            CaseRequest(
                case_no=f"C{i}", chain="company", applicant=applicant, form={}, accepted_by=CLERK
            ),
        )
        for i in range(n)
    ]


async def test_starter_bounded_and_outcomes() -> None:
    items = requests(40)
    items[3] = (items[3][0], items[3][1].model_copy(update={"case_no": "C3BAD"}))
    desk = FakeDesk(exists={"C5", "C6"})
    seen: list[Any] = []
    report = await start_cases(desk, items, concurrency=4, on_result=seen.append)
    assert desk.most_in_flight == 4
    assert report.started == 37 and report.existing == 2
    assert [r.case_no for r in report.rejected] == ["C3BAD"]
    assert [r.row for r in report.results] == [row for row, _ in items]
    assert len(seen) == 40 and report.not_attempted == 0 and not report.interrupted


async def test_starter_stops_cleanly_and_a_rerun_finishes() -> None:
    items = requests(100)
    desk = FakeDesk()
    stop = asyncio.Event()

    def halt_after_ten(result: Any) -> None:
        if len(desk.started) >= 10:
            stop.set()

    report = await start_cases(desk, items, concurrency=8, stop=stop, on_result=halt_after_ten)
    assert report.interrupted
    done = report.started
    assert 10 <= done < 100 and report.not_attempted == 100 - done
    assert len(set(desk.started)) == done  # nothing half-started or started twice

    again = await start_cases(FakeDesk(exists=set(desk.started)), items, concurrency=8)
    assert again.existing == done and again.started == 100 - done


async def test_starter_unreachable_stops_and_reports() -> None:
    items = requests(50)
    report = await start_cases(FakeDesk(down_after=5), items, concurrency=2, reconnect_window=0.3)
    assert "connection refused" in report.unreachable
    # The two starts in flight were sent without an answer: uncertain, not "not attempted".
    assert report.started == 5 and report.uncertain == 2 and report.not_attempted == 43
    assert not report.interrupted


class LosingDesk(FakeDesk):
    """Temporal accepts every start, but the replies of the first ``lose`` are lost
    (the connection drops after the server wrote the case)."""

    def __init__(self, *, lose: int, exists: set[str] = frozenset()) -> None:
        super().__init__(exists=exists)
        self.lose = lose
        self.held: set[str] = set(exists)

    async def start_case(self, request: CaseRequest) -> Any:
        await asyncio.sleep(0.001)
        if request.case_no in self.held:
            raise CaseAlreadyExists(f"case {request.case_no} already exists")
        self.held.add(request.case_no)
        if self.lose > 0:
            self.lose -= 1
            raise RPCError("connection reset", RPCStatusCode.UNAVAILABLE, b"")
        self.started.append(request.case_no)


async def test_starter_counts_a_start_whose_reply_was_lost_as_started() -> None:
    items = requests(20)
    desk = LosingDesk(lose=3, exists={"C7"})
    report = await start_cases(desk, items, concurrency=4)
    # What Temporal holds: 19 started by this run (3 of them with their reply lost), C7
    # from before.
    assert report.started == 19 == len(desk.held) - 1
    assert report.existing == 1 and report.uncertain == 0 and report.not_attempted == 0
    assert report.retried == 3


# ---------------------------------------------------------------- docs


def test_sample_file_is_valid_utf8_with_one_row_per_chain() -> None:
    raw = SAMPLE.read_bytes()
    assert not raw.startswith(codecs.BOM_UTF8)
    raw.decode("utf-8")
    sheet = read_file(SAMPLE)
    assert sheet.headers[0] == "案件编号"
    checked = check_sheet(sheet, resolve_headers(sheet.headers, chain_given=False), actor=CLERK)
    assert checked.problems == []
    chains = sorted(r.request.chain for r in checked.rows if r.request)
    assert chains == sorted(c.code for c in registry.all_chains())
    # Every chain's key materials are listed, so the sample cases are accepted at once.
    for checked_row in checked.rows:
        request = checked_row.request
        assert request is not None
        chain = registry.get_chain(request.chain)
        form = chain.form.model_validate(request.form)  # the form decides conditional ones
        key = {m.code for m in chain.materials if m.key and m.applies(form)}
        assert key and key <= set(request.materials)


def test_generated_people_pass_the_id_checks() -> None:
    from domain.ids import check_credit_code, check_resident_id

    rng = random.Random(4)
    for _ in range(300):
        check_resident_id(people.resident_id(rng))
        check_credit_code(people.credit_code(rng))
        assert parse_phone(people.mobile(rng))


def test_demo_rows_are_valid() -> None:
    from simulator.demo import CASES_PER_CHAIN, demo_rows

    headers, rows = demo_rows(now=NOW)
    expected = CASES_PER_CHAIN * len(registry.all_chains())
    assert len(rows) == expected and len({r["案件编号"] for r in rows}) == expected
    path_rows = [[r.get(h, "") for h in headers] for r in rows]
    from importing.readers import RawRow, Sheet

    sheet = Sheet(headers, [RawRow(i, v, []) for i, v in enumerate(path_rows, start=2)], "csv")
    checked = check_sheet(sheet, resolve_headers(headers, chain_given=False), actor=CLERK, now=NOW)
    assert checked.problems == []
    assert json.dumps(headers, ensure_ascii=False).count("案件编号") == 1


def test_commitments_replace_only_what_the_chain_allows(tmp_path: Path) -> None:
    form = "泉林学校项目,2026-370828-47-01-764879,济宁市金乡县,41500,74700,65300"
    applicant = "济宁市春苗建设工程有限公司,913708303GD5QA4XF2"
    path = tmp_path / "in.csv"
    path.write_text(
        "案件编号,事项,申请人,证件号码,材料,告知承诺,project_name,project_code,address,"
        "land_area_m2,floor_area_m2,investment_wan\n"
        f"A1,construction,{applicant},application,建设资金落实承诺书、quality_safety_plan,{form}\n"
        f"A2,construction,{applicant},application,site_plan,{form}\n"
        f"A3,construction,{applicant},funds_proof,funds_proof,{form}\n",
        encoding="utf-8",
    )
    sheet = read_file(path)
    checked = check_sheet(
        sheet, resolve_headers(sheet.headers, chain_given=False), actor=CLERK, now=NOW
    )
    first = checked.rows[0].request
    assert first is not None, checked.rows[0].reason
    assert [c.material for c in first.commitments] == ["funds_proof", "quality_safety_plan"]
    assert first.commitments[0].signed_by == "济宁市春苗建设工程有限公司"
    assert (
        checked.rows[1].reason
        == "告知承诺: chain construction takes no commitment for: 建设工程设计方案总平面图"
    )
    assert checked.rows[2].reason == "告知承诺: listed as brought in 材料 too: 建设资金落实承诺书"
