"""电子监察 rules of issue 22 beyond the first slice: each fires on real case histories
(driven on a real Temporal server) and does not at its threshold.

The read model is shared by the whole test session, so a month's figures for a
department include other tests' cases: the share rules are checked by how their
figures move when this test adds one case, and at thresholds set from those figures.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.actions import (
    DecideOnBehalf,
    EndSpecialProcedure,
    Extend,
    Rate,
    Rectify,
    StartSpecialProcedure,
)
from domain.case import CaseStatus, SuspensionKind, TaskKind, Verdict
from domain.projection import Publication
from domain.timezone import CST
from readmodel.audit import AuditRecord
from readmodel.database import read_session, write_session
from readmodel.supervision import CursorRecord, FindingRecord
from readmodel.tables import TaskRecord
from supervision.engine import run
from supervision.registry import get_rule
from supervision.rule import Context, Finding, Severity
from tests.harness import CLERK, COORDINATOR, SUPERVISOR, CaseDriver, approve_until, worker_for
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from tests.test_chains_more import COMPANY_FORM
from tests.test_supervise import _calendar, _engine, _first_review_task, office

__all__ = ["office"]  # the fresh-office fixture, shared


def _findings(code: str, case_nos: list[str], now: datetime, **thresholds: Any) -> list[Finding]:
    """Run one rule on these cases' audit rows (the end of the trail, so state checks
    run too), with ``thresholds`` over its defaults; every finding, case or not."""
    rule = get_rule(code)
    with read_session(_engine()) as session:
        rows = list(
            session.exec(
                select(AuditRecord)
                .where(col(AuditRecord.case_no).in_(case_nos))
                .order_by(col(AuditRecord.id))
            ).all()
        )
        context = Context(
            session=session,
            thresholds=rule.Thresholds(**thresholds),
            new_rows=rows,
            now=now,
            calendar=_calendar(now.astimezone(CST).year),
        )
        return list(rule.evaluate(context))


def _only(findings: list[Finding], key: str) -> Finding | None:
    matching = [f for f in findings if f.key == key]
    assert len(matching) <= 1
    return matching[0] if matching else None


def _figures(finding: Finding | None, pattern: str) -> tuple[int, int]:
    """(whole, part) from a share finding's sentence, e.g. "12 件案件中有 3 件"."""
    assert finding is not None
    match = re.search(pattern, finding.sentence)
    assert match, finding.sentence
    return int(match.group(1)), int(match.group(2))


async def _audited(case_no: str, kind: str, timeout: float = 15.0) -> None:
    """Wait until the case's event of ``kind`` is on the audit trail (the projector writes
    it; on a loaded machine a moment after the case's row)."""
    for _ in range(int(timeout / 0.1)):
        with read_session(_engine()) as session:
            found = session.exec(
                select(AuditRecord.id).where(
                    AuditRecord.case_no == case_no, AuditRecord.kind == kind
                )
            ).first()
        if found is not None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {kind} audit row for {case_no} after {timeout} s")


def _month(now: datetime) -> str:
    return now.astimezone(CST).strftime("%Y-%m")


def _noon_after(start: date, working_days: int) -> datetime:
    day = _calendar(start.year).add_working_days(start, working_days).due
    return datetime.combine(day, time(12), tzinfo=CST)


CASES = r"(\d+) 件案件中有 (\d+) 件"


# ------------------------------------------------------------ stopped clock
async def test_stopped_clock_share_and_length(driver: CaseDriver) -> None:
    stopped = await driver.start("kindergarten", KINDERGARTEN_FORM)
    other = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, department = await _first_review_task(driver, stopped)
    other_task, other_department = await _first_review_task(driver, other)
    assert other_department == department
    await driver.desk.act(
        stopped,
        StartSpecialProcedure(
            actor=COORDINATOR, task_id=task_id, kind=SuspensionKind.EXPERT_REVIEW, reason="专家评审"
        ),
    )
    await driver.projected(stopped)
    now = datetime.now(UTC)
    key = f"stopped_clock_overused:dept:{department}:{_month(now)}"
    loose = {"max_share_percent": 0, "min_cases": 1}
    found = _only(_findings("stopped_clock_overused", [stopped], now, **loose), key)
    total, part = _figures(found, CASES)
    assert found is not None and part >= 1 and found.department == department

    await driver.decide(other, other_task, department)  # one more case, not stopped
    await driver.projected(other)
    cases = [stopped, other]
    found = _only(_findings("stopped_clock_overused", cases, now, **loose), key)
    assert _figures(found, CASES) == (total + 1, part)
    share = 100 * part / (total + 1)
    at = {"max_share_percent": share, "min_cases": 1}
    assert _only(_findings("stopped_clock_overused", cases, now, **at), key) is None
    below = {"max_share_percent": share - 0.01, "min_cases": total + 1}
    assert _only(_findings("stopped_clock_overused", cases, now, **below), key) is not None
    too_few = {"max_share_percent": 0, "min_cases": total + 2}
    assert _only(_findings("stopped_clock_overused", cases, now, **too_few), key) is None

    # One special procedure running too long: measured to "today", at its threshold.
    state = await driver.state(stopped)
    began = state.suspensions[-1].start
    seq = next(e.seq for e in state.events if e.kind == "special_started")
    long_key = f"stopped_clock_overused:long:{stopped}:{task_id}:{seq}"
    limit = get_rule("stopped_clock_overused").Thresholds().max_working_days
    assert (
        _only(_findings("stopped_clock_overused", [stopped], _noon_after(began, limit)), long_key)
        is None
    )
    late = _only(
        _findings("stopped_clock_overused", [stopped], _noon_after(began, limit + 1)), long_key
    )
    assert (
        late is not None and f"{limit + 1} 个工作日" in late.sentence and late.event_seqs == (seq,)
    )

    # Ended the same day: nothing is running, and the ended one was short.
    await driver.desk.act(
        stopped,
        EndSpecialProcedure(
            actor=COORDINATOR, suspension_id=state.suspensions[-1].id, reason="评审完成"
        ),
    )
    await driver.projected(stopped)
    await _audited(stopped, "special_ended")
    later = _noon_after(began, limit + 5)
    short = _findings("stopped_clock_overused", [stopped], later, max_working_days=1)
    assert not [f for f in short if f.key.startswith(f"stopped_clock_overused:long:{stopped}:")]


# --------------------------------------------------------------- extensions
async def test_extensions_overused_by_department_and_person(driver: CaseDriver) -> None:
    first = await driver.start("kindergarten", KINDERGARTEN_FORM)
    second = await driver.start("kindergarten", KINDERGARTEN_FORM)
    first_task, department = await _first_review_task(driver, first)
    second_task, _ = await _first_review_task(driver, second)
    await driver.desk.act(
        first, Extend(actor=COORDINATOR, task_id=first_task, days=3, reason="情况复杂")
    )
    await driver.projected(first)
    now = datetime.now(UTC)
    month = _month(now)
    dept_key = f"extensions_overused:dept:{department}:{month}"
    person_key = f"extensions_overused:person:{COORDINATOR.user_id}:{month}"
    loose = {"max_share_percent": 0, "min_cases": 1, "max_per_person": 0}
    found = _findings("extensions_overused", [first], now, **loose)
    total, part = _figures(_only(found, dept_key), CASES)
    granted = int(re.search(r"批准延期 (\d+) 次", _only(found, person_key).sentence).group(1))  # type: ignore[union-attr]

    await driver.desk.act(
        second, Extend(actor=COORDINATOR, task_id=second_task, days=3, reason="情况复杂")
    )
    await driver.projected(second)
    cases = [first, second]
    found = _findings("extensions_overused", cases, now, **loose)
    assert _figures(_only(found, dept_key), CASES) == (total + 1, part + 1)
    person = _only(found, person_key)
    assert person is not None and f"批准延期 {granted + 1} 次" in person.sentence
    assert person.person == COORDINATOR.user_id and len(person.audit_ids) == granted + 1

    share = 100 * (part + 1) / (total + 1)
    at = {"max_share_percent": share, "min_cases": 1, "max_per_person": granted + 1}
    keys = {f.key for f in _findings("extensions_overused", cases, now, **at)}
    assert not {dept_key, person_key} & keys  # other tests' departments may still fire
    above = {"max_share_percent": share - 0.01, "min_cases": 1, "max_per_person": granted}
    keys = {f.key for f in _findings("extensions_overused", cases, now, **above)}
    assert {dept_key, person_key} <= keys


# ---------------------------------------------------------------- on behalf
async def test_on_behalf_share_of_a_departments_decisions(driver: CaseDriver) -> None:
    behalf = await driver.start("kindergarten", KINDERGARTEN_FORM)
    own = await driver.start("kindergarten", KINDERGARTEN_FORM)
    behalf_task, department = await _first_review_task(driver, behalf)
    own_task, _ = await _first_review_task(driver, own)
    await driver.desk.act(
        behalf,
        DecideOnBehalf(
            actor=SUPERVISOR,
            task_id=behalf_task,
            department=department,
            verdict=Verdict.APPROVE,
            reason="部门逾期未决定，代为办理",
        ),
    )
    await driver.projected(behalf)
    now = datetime.now(UTC)
    key = f"on_behalf_share:{department}:{_month(now)}"
    decisions = r"(\d+) 个决定中有 (\d+) 个"
    loose = {"max_share_percent": 0, "min_decisions": 1}
    total, part = _figures(
        _only(_findings("on_behalf_share", [behalf], now, **loose), key), decisions
    )
    assert part >= 1

    await driver.decide(own, own_task, department)
    await driver.projected(own)
    cases = [behalf, own]
    found = _only(_findings("on_behalf_share", cases, now, **loose), key)
    assert _figures(found, decisions) == (total + 1, part)
    assert found is not None and found.department == department
    share = 100 * part / (total + 1)
    at = {"max_share_percent": share, "min_decisions": 1}
    assert _only(_findings("on_behalf_share", cases, now, **at), key) is None
    below = {"max_share_percent": share - 0.01, "min_decisions": total + 1}
    assert _only(_findings("on_behalf_share", cases, now, **below), key) is not None
    too_few = {"max_share_percent": 0, "min_decisions": total + 2}
    assert _only(_findings("on_behalf_share", cases, now, **too_few), key) is None


# ------------------------------------------------------------- 七天双公示
@activity.defn(name="publish_decision")
def _credit_platform_down(publication: Publication) -> None:
    raise ApplicationError("信用平台不可用（credit platform down）")


@pytest.fixture
async def driver_without_publication(
    dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[CaseDriver]:
    """The production worker, but the credit platform refuses every publication (the
    activity retries, so decisions stay unpublished)."""
    import worker
    from activities import publish_decision

    activities = [a for a in worker.ALL_ACTIVITIES if a is not publish_decision]
    monkeypatch.setattr(worker, "ALL_ACTIVITIES", [*activities, _credit_platform_down])
    async with worker_for(dev_env.client) as task_queue:
        yield CaseDriver(dev_env.client, task_queue)


async def test_publication_late_while_unpublished(driver_without_publication: CaseDriver) -> None:
    driver = driver_without_publication
    case_no = await driver.start("company", COMPANY_FORM)
    await approve_until(driver, case_no, lambda s: s.status is not CaseStatus.RUNNING)
    await driver.projected(case_no)
    with read_session(_engine()) as session:
        task = session.exec(
            select(TaskRecord).where(
                TaskRecord.case_no == case_no, TaskRecord.kind == "publication"
            )
        ).one()
    assert task.status == "open"
    decided_on = task.started_at.astimezone(CST).date()
    limit = get_rule("publication_late").Thresholds().working_days
    key = f"publication_late:{case_no}:{task.task_id}"
    assert (
        _only(_findings("publication_late", [case_no], _noon_after(decided_on, limit)), key) is None
    )
    late = _only(_findings("publication_late", [case_no], _noon_after(decided_on, limit + 1)), key)
    assert late is not None and "仍未公示" in late.sentence and "超期 1 个工作日" in late.sentence
    assert late.department == (task.departments or [None])[0]


# ------------------------------------------------- 差评整改 (and a timely 公示)
async def test_bad_rating_unrectified_and_a_publication_in_time(driver: CaseDriver) -> None:
    case_no = await driver.start("company", COMPANY_FORM)
    await driver.run_to_end(case_no)
    await driver.desk.act(case_no, Rate(actor=CLERK, score=2, comment="窗口等候时间长"))
    state = await driver.state(case_no)
    task = next(t for t in state.tasks if t.kind is TaskKind.RECTIFICATION)
    await driver.projected(case_no)
    rated_on = task.started_at.astimezone(CST).date()
    limit = get_rule("bad_rating_unrectified").Thresholds().working_days
    key = f"bad_rating_unrectified:{case_no}:{task.id}"
    at_limit = _noon_after(rated_on, limit)
    assert _only(_findings("bad_rating_unrectified", [case_no], at_limit), key) is None
    late = _only(
        _findings("bad_rating_unrectified", [case_no], _noon_after(rated_on, limit + 1)), key
    )
    assert late is not None and late.severity is Severity.HIGH and "仍未整改" in late.sentence

    # Published the day it was decided: not late even with a limit of 0 days, ever.
    far = _noon_after(rated_on, 100)
    published = _findings("publication_late", [case_no], far, working_days=0)
    assert [f for f in published if f.case_no == case_no] == []

    await driver.desk.act(
        case_no, Rectify(actor=COORDINATOR, task_id=task.id, reason="增设自助取号机")
    )
    await driver.projected(case_no)
    assert _only(_findings("bad_rating_unrectified", [case_no], far), key) is None
    assert _only(_findings("bad_rating_unrectified", [case_no], far, working_days=0), key) is None


# ------------------------------------------------------ acceptance time
async def test_acceptance_time_backdated_or_forward_dated(driver: CaseDriver) -> None:
    now = datetime.now(UTC)
    limit = get_rule("acceptance_time_mismatch").Thresholds().max_hours
    on_time = await driver.start("kindergarten", KINDERGARTEN_FORM)
    backdated = await driver.start(
        "kindergarten",
        KINDERGARTEN_FORM,
        received_at=now.replace(microsecond=0) - timedelta(hours=limit + 2),
    )
    ahead = await driver.start(
        "kindergarten",
        KINDERGARTEN_FORM,
        received_at=now.replace(microsecond=0) + timedelta(hours=limit + 2),
    )
    for case_no in (on_time, backdated, ahead):
        await driver.wait_for_tasks(case_no)
        await driver.projected(case_no)
    assert _findings("acceptance_time_mismatch", [on_time], now, max_hours=0.5) == []
    (found,) = _findings("acceptance_time_mismatch", [backdated], now)
    assert found.key == f"acceptance_time_mismatch:{backdated}" and "倒签" in found.sentence
    assert found.person == CLERK.user_id and found.event_seqs == (1,)
    assert _findings("acceptance_time_mismatch", [backdated], now, max_hours=limit + 3) == []
    (forward,) = _findings("acceptance_time_mismatch", [ahead], now)
    assert "提前登记" in forward.sentence and forward.key == f"acceptance_time_mismatch:{ahead}"
    assert _findings("acceptance_time_mismatch", [ahead], now, max_hours=limit + 3) == []


# ------------------------------------------------------------- the engine
async def test_the_new_rules_run_on_the_shared_trail_without_failing(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    await driver.wait_for_tasks(case_no)
    await driver.projected(case_no)
    codes = [
        "stopped_clock_overused",
        "extensions_overused",
        "on_behalf_share",
        "publication_late",
        "bad_rating_unrectified",
        "acceptance_time_mismatch",
    ]
    report = run(_engine(), rules=[get_rule(c) for c in codes], batch=500)
    assert report.failed == {} and set(report.new) == set(codes)
    again = run(_engine(), rules=[get_rule(c) for c in codes], batch=500)
    assert again.failed == {} and sum(again.new.values()) == 0


# ------------------------------------------------- a catch-up in batches
def test_a_catch_up_in_small_batches_finds_what_one_pass_finds(office: Path) -> None:
    """Month rules count a month once a batch has moved past it: however the trail is
    cut into batches (down to one row each), the findings are the same (a year of the
    bench's histories, thresholds low enough that most months fire)."""
    from bench.supervise_bench import NOW, histories, write
    from supervision import thresholds

    engine = _engine()
    write(engine, histories(60, seed=5))
    codes = ["stopped_clock_overused", "extensions_overused", "on_behalf_share"]
    rules = [get_rule(code) for code in codes]
    with write_session(engine) as session:
        for rule in rules:
            low = {name: 1 for name in rule.Thresholds.model_fields if name.startswith("min_")}
            low |= {name: 0 for name in rule.Thresholds.model_fields if name.startswith("max_s")}
            thresholds.store(session, rule.code, rule.Thresholds(**low), "test")

    def keys(batch: int) -> set[str]:
        with write_session(engine) as session:
            session.exec(delete(FindingRecord))  # type: ignore[call-overload]
            session.exec(delete(CursorRecord))  # type: ignore[call-overload]
        report = run(engine, now=NOW, rules=rules, batch=batch)
        assert report.failed == {}
        with read_session(engine) as session:
            return set(session.exec(select(FindingRecord.key)).all())

    whole = keys(1_000_000)
    months = {key.rsplit(":", 1)[-1] for key in whole if ":dept:" in key}
    assert len(months) >= 6  # the month rules found something in most months
    assert keys(1) == whole
    assert keys(41) == whole


def test_a_rule_another_worker_moved_goes_on_from_there(office: Path) -> None:
    """Between reading the cursors and evaluating, another worker may have evaluated a
    rule: the batch sees the moved cursor, leaves the rule alone and hands it back, and
    the run goes on from where that worker left it (nothing found twice)."""
    from supervision.engine import RunReport, _evaluate_together
    from supervision.engine import _calendar as office_calendar
    from trust.audit_log import record_account_event

    engine = _engine()
    rule = get_rule("outside_change")
    for n in range(3):
        record_account_event(engine, "security", "", f"被拒绝的请求 {n}", {})
    assert run(engine, rules=[rule]).new == {"outside_change": 3}
    for n in range(2):
        record_account_event(engine, "security", "", f"又一次被拒绝 {n}", {})
    now = datetime.now(UTC)
    report = RunReport()
    stale = _evaluate_together(engine, [rule], 0, now, office_calendar(engine, now), 100, report)
    assert stale == [rule] and report.new == {}  # its cursor was not at 0 any more
    assert run(engine, rules=[rule]).new == {"outside_change": 2}
