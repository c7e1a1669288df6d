"""``onechain import`` against a real dev server: a messy file (GBK and UTF-8 with BOM,
Chinese headers, blank lines, bad ids, an unknown chain, a repeated case number, a date
that does not exist), imported twice; dry runs; the error file; XLSX and JSON Lines.

The CLI runs in-process (CliRunner) in a thread, because its commands call
``asyncio.run`` and the test itself runs in pytest-asyncio's loop.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

import chains  # noqa: F401  (registers the chains)
from cli import output
from cli.app import app
from domain.actions import workflow_id_for
from runtime.settings import get_settings
from tests.harness import CaseDriver, act_as_shorthand, sign_in_cli
from workflows import registry

runner = CliRunner()
CLERK = "clerk1:window_clerk:window:窗口张三"

HEADERS = [
    "案件编号",
    "事项",
    "申请人",
    "申请人类型",
    "证件号码",
    "联系电话",
    "受理时间",
    "材料",
    "告知承诺",
    "幼儿园名称",
    "办学地址",
    "建筑面积",
    "计划班级数",
    "计划招生人数",
    "是否自办食堂",
    "店铺名称",
    "经营场所地址",
    "营业面积",
    "就餐座位数",
    "门头牌匾文字",
    "企业名称",
    "住所",
    "注册资本",
    "经营范围",
    "开户银行",
    "项目名称",
    "投资项目统一代码",
    "建设地点",
    "用地面积",
    "总建筑面积",
    "总投资",
]
# Valid ids (check characters computed, birth dates real and past).
PERSON_ID = "370828199707268356"
BAD_PERSON_ID = "370828199707268357"  # last character changed: MOD 11-2 check fails
ORG_ID = "9137081112DD272HDL"
ORG_ID_2 = "91370827JXEB97R5NW"
#: A chain name no deployment registers (checked below), for the "unknown chain" rows.
UNKNOWN_CHAIN = "我要开火星基地"
assert all(UNKNOWN_CHAIN not in (c.code, c.name_zh) for c in registry.all_chains())


def row(case_no: str, chain: str, name: str, kind: str, id_number: str, **cells: Any) -> dict:
    base = {
        "案件编号": case_no,
        "事项": chain,
        "申请人": name,
        "申请人类型": kind,
        "证件号码": id_number,
        "联系电话": "13812345678",
        "受理时间": "2026-11-16 09:30",
    }
    return {**base, **cells}


KINDERGARTEN = {
    "材料": "一链办理申请表；举办者身份证明；园舍产权或租赁证明；教职工名册及资格证明；"
    "消防安全管理制度及平面图；幼儿园章程",
    "幼儿园名称": "济宁市启明幼儿园",
    "办学地址": "济宁市任城区古槐路 1 号",
    "建筑面积": "1,800",
    "计划班级数": "9",
    "计划招生人数": "270",
    "是否自办食堂": "是",
}
RESTAURANT = {
    "店铺名称": "老王水饺馆",
    "经营场所地址": "济宁市任城区红星路 8 号",
    "营业面积": "80",
    "就餐座位数": "30",
    "门头牌匾文字": "老王水饺",
}
COMPANY = {
    "企业名称": "济宁市彩虹文化传媒有限公司",
    "住所": "济宁市梁山县崇文大道 33 号",
    "注册资本": "500",
    "经营范围": "文化艺术交流活动",
    "开户银行": "济宁银行",
}
CONSTRUCTION = {
    "项目名称": "泉林学校项目",
    "投资项目统一代码": "2026-370828-47-01-764879",
    "建设地点": "济宁市金乡县吴泰闸路以东",
    "用地面积": "41500",
    "总建筑面积": "74700",
    "总投资": "65300",
}


def messy_rows(prefix: str) -> list[dict | None]:
    """Rows from file row 2 on; None is a blank line. Comments say the expected problem."""
    return [
        row(
            f"{prefix}-01",
            "我要开幼儿园",
            "济宁市金色教育咨询有限公司",
            "单位",
            ORG_ID,
            **{**KINDERGARTEN, "告知承诺": "食堂布局流程图"},
        ),
        None,  # row 3: blank, skipped but counted
        row(f"{prefix}-02", "restaurant", "王伟", "个人", PERSON_ID, **RESTAURANT),
        row(f"{prefix}-03", "restaurant", "李娜", "个人", BAD_PERSON_ID, **RESTAURANT),  # row 5
        row(f"{prefix}-04", UNKNOWN_CHAIN, "张强", "个人", PERSON_ID),  # row 6: unknown chain
        row(f"{prefix}-01", "company", "刘洋", "个人", PERSON_ID, **COMPANY),  # row 7: repeat
        row(f"{prefix}-05", "企业开办", "陈静", "个人", PERSON_ID, **COMPANY),
        None,  # row 9
        row(  # row 10: 30 February
            f"{prefix}-06",
            "company",
            "杨磊",
            "个人",
            PERSON_ID,
            **{**COMPANY, "受理时间": "2026-02-30 10:00"},
        ),
        row(
            f"{prefix}-07", "company", "赵敏", "个人", PERSON_ID, **{**COMPANY, "联系电话": "12345"}
        ),
        row(  # row 12: a construction project needs an organisation
            f"{prefix}-08", "construction", "周杰", "个人", PERSON_ID, **CONSTRUCTION
        ),
        row(
            f"{prefix}-09",
            "工程建设项目施工许可",
            "济宁市春苗建设工程有限公司",
            "",
            ORG_ID_2,
            **CONSTRUCTION,
        ),
        row(
            f"{prefix}-10",
            "kindergarten",
            "济宁市阳光教育有限公司",
            "单位",
            ORG_ID,
            **{**KINDERGARTEN, "计划班级数": "0", "告知承诺": "幼儿园章程"},
        ),
    ]


EXPECTED_PROBLEMS = {
    # row: (column, words in the reason)
    5: ("证件号码", "check character is wrong"),
    6: ("事项", "unknown chain"),
    7: ("案件编号", "repeats the case number of row 2"),
    10: ("受理时间", "not a real date"),
    11: ("联系电话", "not a mobile number"),
    12: ("申请人类型", "takes only organisation"),
    14: ("计划班级数", "greater than or equal to 1"),
}
GOOD_ROWS = {2: "01", 4: "02", 8: "05", 13: "09"}


def write_csv(path: Path, rows: list[dict | None], encoding: str) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for item in rows:
        writer.writerow([] if item is None else [item.get(h, "") for h in HEADERS])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture
async def cli(
    dev_env: WorkflowEnvironment,
    driver: CaseDriver,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[CaseDriver]:
    """The driver's worker and task queue, with the CLI pointed at them."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.setenv("ONECHAIN_TASK_QUEUE", driver.desk.task_queue)
    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(tmp_path / "session.json"))
    monkeypatch.delenv("ONECHAIN_API_KEY", raising=False)
    get_settings.cache_clear()
    yield driver
    get_settings.cache_clear()


async def invoke(*args: str) -> Result:
    """``--as PERSON`` signs the CLI in first (see ``act_as_shorthand``)."""
    words = act_as_shorthand(Path(os.environ["ONECHAIN_SESSION_FILE"]), list(args))
    return await asyncio.to_thread(runner.invoke, app, words)


async def import_json(*args: str, code: int) -> dict[str, Any]:
    result = await invoke("import", *args, "--json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def problems_by_row(data: dict[str, Any]) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {}
    for problem in data["problems"]:
        found.setdefault(problem["row"], []).append((problem["column"], problem["reason"]))
    return found


def assert_expected_problems(data: dict[str, Any]) -> None:
    found = problems_by_row(data)
    assert set(found) == set(EXPECTED_PROBLEMS), found
    for number, (column, words) in EXPECTED_PROBLEMS.items():
        assert any(c == column and words in r for c, r in found[number]), (number, found[number])


async def run_ids(client: Client, case_nos: list[str]) -> dict[str, str]:
    ids = {}
    for case_no in case_nos:
        described = await client.get_workflow_handle(workflow_id_for(case_no)).describe()
        ids[case_no] = described.run_id
    return ids


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
async def test_messy_file_twice(cli: CaseDriver, tmp_path: Path, encoding: str) -> None:
    prefix = f"IM{uuid.uuid4().hex[:6].upper()}"
    path = write_csv(tmp_path / "窗口导出.csv", messy_rows(prefix), encoding)
    good = [f"{prefix}-{suffix}" for suffix in GOOD_ROWS.values()]

    first = await import_json(str(path), "--as", CLERK, code=1)
    assert first["encoding"] == ("gb18030" if encoding == "gbk" else "utf-8-sig")
    assert_expected_problems(first)
    summary = first["summary"]
    assert summary["read"] == 11  # 13 lines after the header, 2 of them blank
    assert summary["valid"] == len(good) == summary["started"]
    assert summary["invalid"] == len(EXPECTED_PROBLEMS) == summary["rejected"]
    assert summary["already_existing"] == 0 and summary["not_attempted"] == 0
    # Ids and phones never in full.
    assert BAD_PERSON_ID not in json.dumps(first)
    values = {p["row"]: p["value"] for p in first["problems"]}
    assert values[5] == "3708**********8357" and values[11] == "*****"
    started = await run_ids(cli.client, good)

    second = await import_json(str(path), "--as", CLERK, code=1)
    assert_expected_problems(second)
    assert second["summary"]["started"] == 0
    assert second["summary"]["already_existing"] == len(good)
    assert await run_ids(cli.client, good) == started  # nothing started twice

    # The good rows are real cases with the right chain, applicant and form.
    state = await cli.wait_for_tasks(f"{prefix}-01")  # materials assessed at intake
    assert state.chain == "kindergarten"
    assert state.applicant.id_masked == "9137**********2HDL"
    assert [c.material for c in state.commitments] == ["canteen_layout"]
    assert state.commitments[0].signed_by == "济宁市金色教育咨询有限公司"
    restaurant = await cli.state(f"{prefix}-02")
    assert restaurant.applicant.kind == "person"
    assert restaurant.applicant.phone_masked == "138****5678"
    # Rows that were rejected started nothing.
    for bad in ("03", "04", "06", "07", "08", "10"):
        with pytest.raises(Exception):  # noqa: B017 - RPCError NOT_FOUND
            await cli.client.get_workflow_handle(workflow_id_for(f"{prefix}-{bad}")).describe()


async def test_human_output_table_and_summary(cli: CaseDriver, tmp_path: Path) -> None:
    prefix = f"IH{uuid.uuid4().hex[:6].upper()}"
    path = write_csv(tmp_path / "in.csv", messy_rows(prefix), "gbk")
    width = output.stdout.width
    output.stdout.width = 240  # tables as a wide terminal shows them
    try:
        result = await invoke("import", str(path), "--as", CLERK)
    finally:
        output.stdout.width = width
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "rejected before starting" in out and "check character" in out
    assert "3708**********8357" in out  # the bad id, masked
    assert BAD_PERSON_ID not in result.output
    for label in ("read", "started", "already existing", "not attempted", "rate"):
        assert label in out
    assert "cases/s" in out


async def test_dry_run_starts_nothing(cli: CaseDriver, tmp_path: Path) -> None:
    prefix = f"ID{uuid.uuid4().hex[:6].upper()}"
    path = write_csv(tmp_path / "in.csv", messy_rows(prefix), "utf-8-sig")
    data = await import_json(str(path), "--dry-run", code=1)  # no --as needed
    assert_expected_problems(data)
    assert data["dry_run"] is True
    assert data["summary"]["valid"] == 4 and data["summary"]["started"] == 0
    for suffix in GOOD_ROWS.values():
        with pytest.raises(Exception):  # noqa: B017
            await cli.client.get_workflow_handle(workflow_id_for(f"{prefix}-{suffix}")).describe()


async def test_a_dry_run_is_open_to_any_signed_in_role(cli: CaseDriver, tmp_path: Path) -> None:
    """The docs: a dry run needs no sign-in; an administrator signed in is not refused
    either, while a real import still needs a window clerk or a coordinator."""
    prefix = f"IA{uuid.uuid4().hex[:6].upper()}"
    path = write_csv(tmp_path / "in.csv", messy_rows(prefix), "utf-8-sig")
    data = await import_json(str(path), "--dry-run", "--as", "admin1:administrator", code=1)
    assert_expected_problems(data)
    assert data["dry_run"] is True and data["summary"]["valid"] == 4
    assert data["summary"]["started"] == 0
    refused = await invoke("import", str(path), "--as", "admin1:administrator")
    assert refused.exit_code == 2
    assert "not administrator" in refused.stderr


async def test_errors_out_is_ready_to_fix_and_reimport(cli: CaseDriver, tmp_path: Path) -> None:
    prefix = f"IE{uuid.uuid4().hex[:6].upper()}"
    path = write_csv(tmp_path / "in.csv", messy_rows(prefix), "gbk")
    errors = tmp_path / "errors.csv"
    await import_json(str(path), "--as", CLERK, "--errors-out", str(errors), code=1)

    raw = errors.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    records = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert records[0] == [*HEADERS, "reason"]
    body = records[1:]
    assert [r[0] for r in body] == [
        f"{prefix}-03",
        f"{prefix}-04",
        f"{prefix}-01",
        f"{prefix}-06",
        f"{prefix}-07",
        f"{prefix}-08",
        f"{prefix}-10",
    ]
    assert body[0][4] == BAD_PERSON_ID  # the original cell, to fix
    assert body[0][-1].startswith("证件号码: resident id: check character is wrong")
    assert "repeats the case number of row 2" in body[2][-1]
    assert "takes no commitment for: 幼儿园章程" in body[6][-1]

    # Fix two rows in the error file and import it as it is (the reason column is ignored).
    body[0][4] = PERSON_ID
    body[4][5] = "0537-2345678"
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([records[0], body[0], body[4]])
    again = await import_json(str(fixed), "--as", CLERK, code=0)
    assert again["summary"]["started"] == 2 and again["problems"] == []


async def test_xlsx_and_jsonl(cli: CaseDriver, tmp_path: Path) -> None:
    from datetime import datetime

    from openpyxl import Workbook

    prefix = f"IX{uuid.uuid4().hex[:6].upper()}"
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(
        [
            "case_no",
            "chain",
            "applicant_name",
            "applicant_kind",
            "id_number",
            "phone",
            "received_at",
            "shop_name",
            "address",
            "floor_area_m2",
            "seats",
            "signboard_text",
        ]
    )
    sheet.append(
        [
            f"{prefix}-1",
            "restaurant",
            "王伟",
            "person",
            PERSON_ID,
            13812345678,
            datetime(2026, 11, 16, 9, 30),
            "老王水饺馆",
            "济宁市任城区红星路 8 号",
            80,
            30,
            "老王水饺",
        ]
    )
    sheet.append([])
    # An id typed into a number cell: Excel keeps 15 significant digits.
    sheet.append(
        [
            f"{prefix}-2",
            "restaurant",
            "李娜",
            "person",
            float(PERSON_ID),
            "13812345678",
            "2026-11-16 09:30",
            "李记面馆",
            "济宁市",
            60,
            20,
            "李记",
        ]
    )
    xlsx = tmp_path / "in.xlsx"
    workbook.save(xlsx)
    data = await import_json(str(xlsx), "--as", CLERK, code=1)
    assert data["format"] == "xlsx"
    assert data["summary"]["started"] == 1
    [problem] = data["problems"]
    assert problem["row"] == 4 and problem["column"] == "id_number"
    assert "format the column as text" in problem["reason"]
    state = await cli.state(f"{prefix}-1")
    assert state.applicant.phone_masked == "138****5678"

    jsonl = tmp_path / "in.jsonl"
    lines = [
        {
            "案件编号": f"{prefix}-3",
            "事项": "company",
            "申请人": "陈静",
            "申请人类型": "个人",
            "证件号码": PERSON_ID,
            "form": {
                "company_name": "济宁市彩虹文化传媒有限公司",
                "address": "济宁市梁山县",
                "registered_capital_wan": 100,
                "business_scope": "文化艺术交流",
                "bank": "济宁银行",
                "needs_invoices": False,
            },
            "材料": ["application", "公司章程（可使用章程范本）"],
        },
        {
            "案件编号": f"{prefix}-4",
            "事项": "company",
            "申请人": "杨磊",
            "申请人类型": "个人",
            "证件号码": PERSON_ID,
            "company_name": "坏名字",
        },
    ]
    jsonl.write_text(
        json.dumps(lines[0], ensure_ascii=False)
        + "\n\n{not json\n"
        + json.dumps(lines[1], ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    data = await import_json(str(jsonl), "--as", CLERK, code=1)
    assert data["format"] == "jsonl" and data["summary"]["started"] == 1
    found = problems_by_row(data)
    assert set(found) == {3, 4}  # JSON Lines rows are line numbers
    assert "not valid JSON" in found[3][0][1]
    assert any(c == "company_name" for c, _ in found[4])
    assert any(c == "address" and "required" in r for c, r in found[4])


async def test_unreadable_file_and_bad_usage(cli: CaseDriver, tmp_path: Path) -> None:
    missing = await invoke("import", str(tmp_path / "nope.csv"), "--dry-run")
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    no_id = tmp_path / "no_id.csv"
    no_id.write_text("案件编号,事项,申请人\nA1,company,王伟\n", encoding="utf-8")
    result = await invoke("import", str(no_id), "--dry-run")
    assert result.exit_code == 2 and "证件号码 (id_number)" in result.stderr
    sample = Path(__file__).resolve().parent.parent / "docs" / "samples" / "import-sample.csv"
    wrong = await invoke("import", str(sample), "--chain", UNKNOWN_CHAIN, "--dry-run")
    assert wrong.exit_code == 2 and "unknown chain" in wrong.stderr
    reviewer = await invoke("import", str(sample), "--as", "r1:reviewer:fire")
    assert reviewer.exit_code == 2 and "window clerk" in reviewer.stderr


async def test_unreachable_temporal_exits_3(
    cli: CaseDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{port}")
    get_settings.cache_clear()
    sample = Path(__file__).resolve().parent.parent / "docs" / "samples" / "import-sample.csv"
    result = await invoke("import", str(sample), "--as", CLERK)
    assert result.exit_code == 3, result.output
    rows = len(registry.all_chains())  # the sample has one row per chain
    assert "unreachable" in result.stderr and f"{rows} row(s) not attempted" in result.stderr


async def test_ctrl_c_stops_cleanly_and_a_rerun_finishes(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A real ``onechain import`` process gets SIGINT in the middle of its starts."""
    import os
    import random
    import signal
    import sys
    from datetime import UTC, datetime, timedelta

    from simulator.demo import COMMON_HEADERS, demo_row

    prefix = f"IC{uuid.uuid4().hex[:6].upper()}"
    rng = random.Random(9)
    received = datetime.now(UTC) - timedelta(hours=1)
    rows = [
        demo_row("company", rng, case_no=f"{prefix}-{i:05d}", received_at=received)
        for i in range(2000)
    ]
    headers = list(COMMON_HEADERS) + [h for h in rows[0] if h not in COMMON_HEADERS]
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows([r.get(h, "") for h in headers] for r in rows)
    session = tmp_path / "session.json"
    sign_in_cli(session, "window_clerk:window", user_id="clerk1", name="窗口张三")
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "ONECHAIN_SESSION_FILE": str(session),
        # No worker polls this queue: the cases are only started, never run.
        "ONECHAIN_TASK_QUEUE": f"import-{uuid.uuid4().hex[:6]}",
    }
    command = [str(Path(sys.executable).parent / "onechain"), "import", str(path)]
    command += ["--json", "--concurrency", "4"]

    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    first_case = dev_env.client.get_workflow_handle(workflow_id_for(f"{prefix}-00000"))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:  # wait until the start phase has begun
        try:
            await first_case.describe()
            break
        except Exception:
            assert loop.time() < deadline and process.returncode is None
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 130, stderr.decode()
    first = json.loads(stdout)["summary"]
    assert first["started"] > 0 and first["not_attempted"] > 0
    assert first["started"] + first["not_attempted"] == 2000
    assert "not attempted" in stderr.decode()

    again = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(again.communicate(), timeout=120)
    assert again.returncode == 0, stderr.decode()
    second = json.loads(stdout)["summary"]
    assert second["already_existing"] == first["started"]
    assert second["started"] == first["not_attempted"]
