"""Demo data for ``onechain up --demo``: a few dozen realistic cases for every
registered chain, started through the importer's own code (the rows are what an import
file would hold), then the department simulator in the same process until Ctrl-C.

Every row is built from the chain's own declaration: its form model (examples,
choices, defaults, bounds), its materials and its applicant kind. A new chain gets demo
cases, a row in the sample import file and a place in ``simulate`` without a line here.

Case numbers are fixed (``DEMO-KINDERGARTEN-001`` …), so running the demo again starts
nothing twice: existing cases are skipped. Some cases were "received" days ago, so yellow and
red cards appear soon; a few lack a key material, so 一次告知 and the window's
supplement show up too. Some of the old cases are never touched by the simulator
(``cases_left_late``), so late cases stay on the console for whoever looks later.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from simulator import people
from simulator.actors import DEMO_CLERK

if TYPE_CHECKING:
    from workflows.chain import Chain

DEMO_SEED = 2026
CASES_PER_CHAIN = 9
PREFIX = "DEMO"
#: Days before now the demo cases were received: mostly recent, a few old enough that
#: their promised limits are near or past (scaled up for chains with long limits).
RECEIVED_DAYS_AGO = (0, 0, 0, 1, 1, 2, 3, 4, 6, 8, 12, 18)
#: The sample import file's cases are received from this day on, one day apart, over
#: at most SAMPLE_SPREAD_DAYS days (so however many chains, none is in the future).
SAMPLE_RECEIVED = datetime(2026, 11, 17, 9, 30)
SAMPLE_SPREAD_DAYS = 4
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
APPLICANT_KINDS = {"person": ("个人",), "organisation": ("单位",), "either": ("个人", "单位")}


def _registry() -> Any:
    import chains  # noqa: F401  (registers the chains)
    from workflows import registry

    return registry


def demo_case_prefix(chain: str) -> str:
    """``DEMO-KINDERGARTEN``: the demo cases of one chain, from its code alone."""
    return f"{PREFIX}-{chain.upper()}"


def form_cells(chain: Chain, rng: random.Random) -> dict[str, Any]:
    """Form cells of one row, keyed by the Chinese header the import docs give each
    field, with values built from the chain's form model (its examples, choices,
    defaults and bounds: :func:`workflows.form_samples.demo_values`)."""
    from importing.columns import COMMON_COLUMNS, IGNORED_HEADERS, form_fields, normalise_header
    from workflows.form_samples import demo_values

    taken = IGNORED_HEADERS | {
        normalise_header(alias)
        for column in COMMON_COLUMNS
        for alias in (column.name, column.label_zh, *column.aliases)
    }
    values = demo_values(chain.form, rng)
    cells: dict[str, Any] = {}
    for spec in form_fields(chain):
        value = values.get(spec.name)
        if value is None:
            continue
        if spec.kind == "bool":
            value = "是" if value else "否"
        elif spec.kind == "choice":
            value = spec.choices.get(str(value), value)
        # A label that is also a common column (e.g. 申请人) cannot fill the field: use
        # the field's own name there.
        header = spec.name if normalise_header(spec.label) in taken else spec.label
        cells[header] = value
    return cells


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
    spec = _registry().get_chain(chain)
    form = form_cells(spec, rng)
    kind = rng.choice(APPLICANT_KINDS[spec.applicant_kind])
    if kind == "个人":
        name, id_number = people.person_name(rng), people.resident_id(rng)
    else:
        name, id_number = people.company_name(rng), people.credit_code(rng)
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


def _headers(rows: list[dict[str, Any]]) -> list[str]:
    headers: list[str] = list(COMMON_HEADERS)
    for row in rows:
        headers += [h for h in row if h not in headers]
    return headers


def sample_rows() -> tuple[list[str], list[dict[str, Any]]]:
    """Headers and rows of ``docs/samples/import-sample.csv``: one complete case per
    registered chain, the same every time (fixed seed and dates)."""
    rng = random.Random(DEMO_SEED)
    received = SAMPLE_RECEIVED.replace(tzinfo=_cst())
    rows = [
        demo_row(
            chain.code,
            rng,
            case_no=f"JN-2026-{number:06d}",
            received_at=received + timedelta(days=(number - 1) % SAMPLE_SPREAD_DAYS),
            all_materials=True,
        )
        for number, chain in enumerate(_registry().all_chains(), start=1)
    ]
    return _headers(rows), rows


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
    for chain in _registry().all_chains():
        stretch = max(1, chain.promised_days // 20)  # long chains: older cases
        for i in range(1, per_chain + 1):
            days = rng.choice(RECEIVED_DAYS_AGO) * stretch
            received = (now - timedelta(days=days)).astimezone(_cst())
            received = received.replace(hour=rng.randrange(8, 12), minute=rng.randrange(60))
            if received > now:
                received -= timedelta(days=1)
            rows.append(
                demo_row(
                    chain.code,
                    rng,
                    case_no=f"{demo_case_prefix(chain.code)}-{i:03d}",
                    received_at=received,
                    complete_materials=rng.random() > 0.12,
                )
            )
    headers = _headers(rows)
    return headers, rows


#: Of the demo cases received this many days ago or more (their cards come first), every
#: other one is left alone by the simulator, so a newcomer still finds late cases to
#: chase after the simulator has worked through the rest.
LEFT_LATE_AFTER_DAYS = 6


def cases_left_late(*, per_chain: int = CASES_PER_CHAIN) -> frozenset[str]:
    """The demo cases the simulator never acts on (the same numbers every run)."""
    now = datetime(2026, 1, 5, 12, tzinfo=UTC)  # any fixed day: only the offsets matter
    _, rows = demo_rows(now=now, per_chain=per_chain)
    old = [
        row["案件编号"]
        for row in rows
        if now.astimezone(_cst()).replace(tzinfo=None)
        - datetime.strptime(row["受理时间"], "%Y-%m-%d %H:%M")
        >= timedelta(days=LEFT_LATE_AFTER_DAYS)
    ]
    return frozenset(old[::2])


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
    report = await start_cases(desk, items, concurrency=8)
    return _earlier_demo_cases_are_there(report)


def _earlier_demo_cases_are_there(report: Any) -> Any:
    """A demo number held by another demo applicant is an earlier demo's case (the
    generator's draws shift when a chain is added): already there, not a conflict. Any
    other conflict (a start onechain never admitted, a case changed around it) stays."""
    from dataclasses import replace

    from importing.starter import Outcome

    report.results = [
        replace(r, outcome=Outcome.EXISTS)
        if r.outcome is Outcome.CONFLICT and "another applicant" in r.reason
        else r
        for r in report.results
    ]
    return report


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
        leave_alone=cases_left_late().__contains__,
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
