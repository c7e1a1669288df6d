"""Demo data for ``onechain up --demo``: a few dozen realistic cases for every chain,
started through the importer's own code (the rows are what an import file would hold),
then the department simulator in the same process until Ctrl-C.

Case numbers are fixed (``DEMO-KG-001`` …), so running the demo again starts nothing
twice: existing cases are skipped. Some cases were "received" days ago, so yellow and
red cards appear soon; a few lack a key material, so 一次告知 and the window's
supplement show up too.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.roles import Actor, Role
from simulator import people

DEMO_SEED = 2026
CASES_PER_CHAIN = 9
PREFIX = "DEMO"
CHAIN_ABBREVIATIONS = {
    "kindergarten": "KG",
    "restaurant": "RS",
    "company": "CO",
    "construction": "CN",
}
#: Days before now the demo cases were received: mostly recent, a few old enough that
#: their promised limits are near or past.
RECEIVED_DAYS_AGO = (0, 0, 0, 1, 1, 2, 3, 4, 6, 8, 12, 18)
DEMO_CLERK = Actor(
    user_id="demo-window", name="窗口（演示）", role=Role.WINDOW_CLERK, department="window"
)
COMMON_HEADERS = [
    "案件编号",
    "事项",
    "申请人",
    "申请人类型",
    "证件号码",
    "联系电话",
    "受理时间",
    "材料",
    "告知承诺",
]
APPLICANT_INDUSTRIES = {
    "kindergarten": ("教育咨询", "教育科技", "文化传媒"),
    "restaurant": ("餐饮管理", "食品", "商贸"),
    "construction": ("建设工程", "房地产开发", "置业"),
}
SCOPES = (
    "餐饮管理；食品销售；企业管理咨询",
    "软件开发；信息技术咨询服务",
    "日用百货销售；五金产品零售",
    "教育咨询服务（不含涉许可审批的教育培训活动）",
)


def _form(chain: str, rng: random.Random) -> tuple[dict[str, Any], str]:
    """Form cells (Chinese headers) and the applicant kind for one demo row."""
    if chain == "kindergarten":
        classes = rng.randrange(3, 13)
        return {
            "幼儿园名称": f"济宁市{rng.choice(people.BRANDS)}幼儿园",
            "办学地址": people.address(rng),
            "建筑面积": rng.randrange(900, 3600, 50),
            "计划班级数": classes,
            "计划招生人数": classes * rng.choice((25, 30, 30, 35)),
            "是否自办食堂": "是" if rng.random() < 0.8 else "否",
        }, "单位"
    if chain == "restaurant":
        area = rng.choice((45, 60, 80, 120, 180, 260, 320, 450, 600))
        surname = rng.choice(people.SURNAMES)
        shop = f"{surname}记{rng.choice(people.DISHES)}"
        return {
            "店铺名称": shop,
            "经营场所地址": people.address(rng),
            "营业面积": area,
            "就餐座位数": max(8, area // 3),
            "已取得营业执照": "否" if rng.random() < 0.8 else "是",
            "门头牌匾文字": shop,
            "门头牌匾情形复杂": "是" if rng.random() < 0.25 else "否",
        }, rng.choice(("个人", "个人", "单位"))
    if chain == "company":
        return {
            "企业名称": people.company_name(rng),
            "企业类型": rng.choice(("有限责任公司", "有限责任公司", "个人独资企业")),
            "住所": people.address(rng),
            "注册资本": rng.choice((10, 50, 100, 200, 500, 1000)),
            "经营范围": rng.choice(SCOPES),
            "拟参保职工人数": rng.randrange(0, 40),
            "开户银行": rng.choice(people.BANKS),
            "同时申领发票": "是" if rng.random() < 0.85 else "否",
        }, rng.choice(("个人", "个人", "个人", "单位"))
    if chain == "construction":
        division = rng.choice(people.DIVISIONS)
        land = rng.randrange(8_000, 60_000, 500)
        return {
            "项目名称": f"{rng.choice(people.BRANDS)}{rng.choice(('花园', '产业园', '学校', '商业综合体'))}项目",
            "投资项目统一代码": f"2026-{division[0]}-47-01-{rng.randrange(1, 999_999):06d}",
            "建设地点": f"济宁市{division[1]}{rng.choice(people.STREETS)}以东",
            "用地面积": land,
            "总建筑面积": int(land * rng.choice((1.2, 1.8, 2.5))),
            "总投资": rng.randrange(3_000, 80_000, 100),
        }, "单位"
    raise LookupError(f"no demo data for chain {chain}")


def demo_row(
    chain: str,
    rng: random.Random,
    *,
    case_no: str,
    received_at: datetime,
    complete_materials: bool = True,
    all_materials: bool = False,
) -> dict[str, Any]:
    """One row, keyed by the Chinese headers an import file would use."""
    import chains  # noqa: F401
    from workflows import registry

    spec = registry.get_chain(chain)
    form, kind = _form(chain, rng)
    if kind == "个人":
        name, id_number = people.person_name(rng), people.resident_id(rng)
    else:
        industry = rng.choice(APPLICANT_INDUSTRIES.get(chain, people.INDUSTRIES))
        name, id_number = people.company_name(rng, industry), people.credit_code(rng)
    materials = [m.name for m in spec.materials if m.key or all_materials or rng.random() < 0.7]
    commitments = [
        m.name
        for m in spec.materials
        if m.commitment and m.name not in materials and (all_materials or rng.random() < 0.8)
    ]
    if not complete_materials:
        key = [m.name for m in spec.materials if m.key]
        materials.remove(rng.choice(key[1:] or key))
    return {
        "案件编号": case_no,
        "事项": spec.name_zh,
        "申请人": name,
        "申请人类型": kind,
        "证件号码": id_number,
        "联系电话": people.mobile(rng),
        "受理时间": received_at.astimezone(_cst()).strftime("%Y-%m-%d %H:%M"),
        "材料": "；".join(materials),
        "告知承诺": "；".join(commitments),
        **form,
    }


def _cst() -> Any:
    from domain.timezone import CST

    return CST


def demo_rows(
    *, now: datetime | None = None, per_chain: int = CASES_PER_CHAIN, seed: int = DEMO_SEED
) -> tuple[list[str], list[dict[str, Any]]]:
    """Headers and rows of the demo cases (deterministic apart from the times)."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for chain, abbreviation in CHAIN_ABBREVIATIONS.items():
        for i in range(1, per_chain + 1):
            days = rng.choice(RECEIVED_DAYS_AGO)
            if chain == "construction":
                days *= 2
            received = (now - timedelta(days=days)).astimezone(_cst())
            received = received.replace(hour=rng.randrange(8, 12), minute=rng.randrange(60))
            if received > now:
                received -= timedelta(days=1)
            rows.append(
                demo_row(
                    chain,
                    rng,
                    case_no=f"{PREFIX}-{abbreviation}-{i:03d}",
                    received_at=received,
                    complete_materials=rng.random() > 0.12,
                )
            )
    headers: list[str] = list(COMMON_HEADERS)
    for row in rows:
        headers += [h for h in row if h not in headers]
    return headers, rows


async def seed_demo(
    desk: Any, *, now: datetime | None = None, per_chain: int = CASES_PER_CHAIN
) -> Any:
    """Start the demo cases through the importer (existing ones are skipped)."""
    from importing.columns import resolve_headers
    from importing.readers import RawRow, Sheet
    from importing.starter import start_cases
    from importing.validate import check_sheet

    headers, rows = demo_rows(now=now, per_chain=per_chain)
    sheet = Sheet(
        headers=headers,
        rows=[
            RawRow(number, [row.get(h, "") for h in headers], [])
            for number, row in enumerate(rows, start=2)
        ],
        format="csv",
    )
    checked = check_sheet(
        sheet, resolve_headers(headers, chain_given=False), actor=DEMO_CLERK, now=now
    )
    if checked.problems:  # a bug in the demo data, not a user error
        first = checked.problems[0]
        raise RuntimeError(f"demo row {first.row} {first.column}: {first.reason}")
    items = [(r.raw.number, r.request) for r in checked.valid_rows]
    return await start_cases(desk, items, concurrency=8)


async def run_demo_alongside(
    worker: Coroutine[Any, Any, None],
    *,
    credentials: Any,
    say: Callable[[str], None] = print,
) -> None:
    """Run ``worker`` (which returns on Ctrl-C) and, beside it, seed the demo cases and
    run the department simulator; when the worker stops, the simulator stops too."""
    worker_task = asyncio.create_task(worker)
    demo_task = asyncio.create_task(_seed_and_simulate(say, credentials))
    try:
        await asyncio.wait({worker_task, demo_task}, return_when=asyncio.FIRST_COMPLETED)
        if demo_task.done() and not demo_task.cancelled() and demo_task.exception():
            error = demo_task.exception()
            say(f"demo stopped: {type(error).__name__}: {error}; the worker keeps running")
        await worker_task
    finally:
        demo_task.cancel()
        worker_task.cancel()
        await asyncio.gather(demo_task, worker_task, return_exceptions=True)


async def _seed_and_simulate(say: Callable[[str], None], credentials: Any) -> None:
    """Seed and simulate as the demo's service account (``simulator.demo_people``)."""
    from client.facade import CaseDesk
    from runtime.connect import connect
    from simulator.engine import Simulator
    from simulator.policy import Policy

    desk = CaseDesk(await connect(), credentials=credentials)
    report = await seed_demo(desk)
    say(
        f"demo: {report.started} case(s) started, {report.existing} already there "
        f"({len(report.results)} demo cases); department simulator running"
    )

    def show(log: Any) -> None:
        if log.what == "refused":
            return  # mostly the read model catching up with a decision already made
        say(
            f"demo: {log.case_no} {log.task_id} {department_label(log.actor)} {WHAT_ZH.get(log.what, log.what)} {log.detail}"
        )

    simulator = Simulator(
        desk,
        Policy(seed=DEMO_SEED, approve=0.9, return_share=0.08, slow=0.15),
        rate_per_min=20,
        supplement_after=90,
        complete_after=180,
        case_prefix=f"{PREFIX}-",
        on_action=show,
    )
    await simulator.run(asyncio.Event())


WHAT_ZH = {
    "approve": "同意",
    "return": "退回补正",
    "reject": "不同意",
    "supplement": "录入补正材料",
    "materials": "补齐材料",
    "event": "申请人告知",
    "timeout": "无应答",
}


def department_label(code: str) -> str:
    from domain.departments import department_name

    return department_name(code)
