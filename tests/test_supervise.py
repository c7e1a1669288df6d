"""电子监察 (issue 22, first slice): rules fire on real case histories and not at their
threshold; a run is incremental; a rule that raises is skipped; thresholds are the
administrator's, audited; the CLI says what is wrong in one line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlmodel import col, select
from typer.testing import CliRunner, Result

from cli.app import app
from client.facade import ActionRejected
from domain.actions import Decide, RecordSupplement
from domain.calendar import WorkCalendar
from domain.case import Verdict
from domain.materials import MaterialState
from domain.timezone import CST
from readmodel.audit import AuditRecord
from readmodel.calendar_store import calendar_from_store
from readmodel.database import read_session, ready_engine
from readmodel.supervision import CursorRecord, FindingRecord
from readmodel.tables import TaskRecord
from runtime.settings import get_settings
from supervision.engine import run
from supervision.registry import all_rules, get_rule
from supervision.rule import Context, Finding, Severity
from tests.harness import CLERK, CaseDriver, reviewer, sign_in_cli
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from tests.test_cli_cases import wide_terminal
from trust.audit_log import record_account_event


def _engine() -> Any:
    return ready_engine(get_settings().resolved_database_url)


def _calendar(year: int) -> WorkCalendar:
    return WorkCalendar(calendar_from_store(_engine(), year - 1, year + 1))


def _evaluate(code: str, case_no: str, now: datetime, **thresholds: Any) -> list[Finding]:
    """Run one rule on one case's audit rows, with ``thresholds`` over its defaults."""
    rule = get_rule(code)
    with read_session(_engine()) as session:
        rows = list(
            session.exec(
                select(AuditRecord)
                .where(AuditRecord.case_no == case_no)
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
        return [f for f in rule.evaluate(context) if f.case_no == case_no]


async def _first_review_task(driver: CaseDriver, case_no: str) -> tuple[str, str]:
    state = await driver.wait_for_tasks(case_no)
    task = next(t for t in state.open_tasks if t.parts)
    return task.id, task.parts[0].department


async def _return(driver: CaseDriver, case_no: str, task_id: str, department: str) -> None:
    await driver.desk.act(
        case_no,
        Decide(
            actor=reviewer(department),
            task_id=task_id,
            verdict=Verdict.RETURN,
            reason="材料不全",
            missing_items=["补充说明"],
        ),
    )


# ---------------------------------------------------------------- the rules
async def test_repeated_correction_fires_above_its_threshold(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, department = await _first_review_task(driver, case_no)
    await _return(driver, case_no, task_id, department)
    await driver.projected(case_no)
    now = datetime.now(UTC)
    assert _evaluate("repeated_correction", case_no, now) == []  # one request: 一次告知 kept

    await driver.desk.act(
        case_no, RecordSupplement(actor=CLERK, task_id=task_id, items=["补充说明"])
    )
    await _return(driver, case_no, task_id, department)
    await driver.projected(case_no)
    assert _evaluate("repeated_correction", case_no, now, max_requests=2) == []  # at threshold
    (finding,) = _evaluate("repeated_correction", case_no, now)
    assert finding.department == department and len(finding.event_seqs) == 2
    assert "2 次" in finding.sentence and finding.key == f"repeated_correction:{case_no}"


async def test_asking_for_a_material_already_received_is_a_finding(driver: CaseDriver) -> None:
    """The engine refuses the request (never asked twice); the attempt is a finding that
    names the department and the person; a request for a missing item is not."""
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, department = await _first_review_task(driver, case_no)
    state = await driver.state(case_no)
    held = next(m for m in state.materials if m.state is not MaterialState.MISSING)
    with pytest.raises(ActionRejected):
        await driver.desk.act(
            case_no,
            Decide(actor=reviewer(department), task_id=task_id, verdict=Verdict.RETURN,
                   reason="请补交", missing_items=[held.code]),
        )  # fmt: skip
    await _return(driver, case_no, task_id, department)  # a missing item: a fair request
    await driver.projected(case_no)
    now = datetime.now(UTC)
    for _ in range(100):  # refusals reach the trail off the workflow's thread (~0.5 s)
        if found := _evaluate("asked_for_held_material", case_no, now):
            break
        await asyncio.sleep(0.1)
    (finding,) = found
    assert finding.department == department and finding.person == reviewer(department).user_id
    assert finding.severity is Severity.MEDIUM and "已收取" in finding.sentence


async def test_red_card_idle_fires_after_n_working_days(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    await driver.wait_for_tasks(case_no)
    await driver.projected(case_no)
    with read_session(_engine()) as session:
        task = session.exec(
            select(TaskRecord)
            .where(TaskRecord.case_no == case_no, TaskRecord.status == "open")
            .where(col(TaskRecord.due_on).is_not(None))
        ).first()
    assert task is not None and task.due_on is not None
    limit = get_rule("red_card_idle").Thresholds().idle_working_days
    calendar = _calendar(task.due_on.year)

    def noon_after(days: int) -> datetime:
        assert task is not None and task.due_on is not None
        day = calendar.add_working_days(task.due_on, days).due
        return datetime.combine(day, time(12), tzinfo=CST)

    assert _evaluate("red_card_idle", case_no, noon_after(limit)) == []
    found = _evaluate("red_card_idle", case_no, noon_after(limit + 1))
    assert [f.key for f in found if task.task_id in f.key]
    assert all(f.severity is Severity.HIGH and "红牌" in f.sentence for f in found)


# ---------------------------------------------------------------- a fresh office
@pytest.fixture
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data folder (and database) with a session file, as test_departments."""
    from readmodel.database import create_read_model
    from runtime.keys import init_keys, keys_dir

    monkeypatch.setenv("ONECHAIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(tmp_path / "session.json"))
    get_settings.cache_clear()
    init_keys(keys_dir(get_settings()))
    create_read_model(get_settings().resolved_database_url)
    yield tmp_path / "session.json"
    get_settings.cache_clear()


def onechain(*args: str) -> Result:
    with wide_terminal():
        return CliRunner().invoke(app, list(args))


class NoThresholds(BaseModel):
    pass


class Boom:
    code = "boom"
    name_zh = "出错的规则"
    basis = ""
    severity = Severity.LOW
    Thresholds = NoThresholds

    def evaluate(self, context: Context) -> Iterable[Finding]:
        raise RuntimeError("rule broke")


def test_outside_changes_are_findings_once_and_a_raising_rule_is_skipped(office: Path) -> None:
    engine = _engine()
    record_account_event(engine, "security", "", "伪造的会话被拒绝", {"reason": "forged"})
    record_account_event(engine, "user_added", "admin", "新增用户")  # not a finding
    rules = [Boom(), get_rule("outside_change")]
    first = run(engine, rules=rules)
    assert first.new == {"outside_change": 1} and "rule broke" in first.failed["boom"]
    assert run(engine, rules=rules).new == {"outside_change": 0}  # nothing new the second time
    record_account_event(engine, "outside_change", "temporal-admin", "终止了案件", {})
    assert run(engine).new["outside_change"] == 1
    with read_session(engine) as session:
        cursors = {c.rule: c.last_audit_id for c in session.exec(select(CursorRecord))}
        findings = session.exec(select(FindingRecord)).all()
    assert "boom" not in cursors and set(cursors) == {r.code for r in all_rules()}
    assert len(findings) == 2 and all(f.evidence["audit"] for f in findings)


def test_thresholds_are_the_administrators_and_audited(office: Path) -> None:
    rule = get_rule("red_card_idle")
    name = next(iter(rule.Thresholds.model_fields))
    sign_in_cli(office, "supervisor", user_id="sup-1")
    refused = onechain("supervise", "set-threshold", rule.code, name, "5")
    assert refused.exit_code == 2 and "administrator" in refused.stderr
    assert onechain("supervise", "run").exit_code == 0
    sign_in_cli(office, "administrator", user_id="admin-1")
    result = onechain("supervise", "set-threshold", rule.code, name, "5")
    assert result.exit_code == 0, result.output
    listed = {r["code"]: r for r in json.loads(onechain("supervise", "rules", "--json").stdout)}
    assert listed[rule.code]["thresholds"][name] == 5
    with read_session(_engine()) as session:
        audited = session.exec(
            select(AuditRecord).where(AuditRecord.kind == "supervision_threshold")
        ).one()
    assert audited.actor_id == "admin-1" and audited.data["after"][name] == 5


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("set-threshold", "no_such_rule", "x", "1"), "unknown supervision rule 'no_such_rule'"),
        (("set-threshold", "red_card_idle", "no_such", "1"), "no threshold 'no_such'"),
        (
            ("set-threshold", "red_card_idle", "idle_working_days", "999"),
            "less than or equal to 60",
        ),
        (("set-threshold", "red_card_idle", "idle_working_days", "x"), "refused"),
        (("set-threshold", "off_hours_decision", "day_ends_hour", "3"), "must be after"),
        (("list", "--rule", "no_such_rule"), "unknown supervision rule"),
    ],
)
def test_cli_errors_are_one_line_exit_2(office: Path, args: tuple[str, ...], says: str) -> None:
    sign_in_cli(office, "administrator", user_id="admin-1")
    result = onechain("supervise", *args)
    assert result.exit_code == 2 and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_list_filters_by_rule_and_department(office: Path) -> None:
    engine = _engine()
    record_account_event(engine, "security", "", "被拒绝的请求", {})
    sign_in_cli(office, "supervisor", user_id="sup-1")
    ran = onechain("supervise", "run")
    assert ran.exit_code == 0 and "outside_change：新发现 1 条" in ran.stdout
    listed = json.loads(onechain("supervise", "list", "--rule", "outside_change", "--json").stdout)
    assert [f["rule"] for f in listed] == ["outside_change"]
    none = json.loads(onechain("supervise", "list", "--department", "nowhere", "--json").stdout)
    assert none == []
    assert onechain("supervise", "list").exit_code == 0


async def test_off_hours_decision_fires_outside_the_office_hours(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    await driver.wait_for_tasks(case_no)
    assert await driver.approve_open(case_no)
    await driver.projected(case_no)
    with read_session(_engine()) as session:
        decided = session.exec(
            select(AuditRecord).where(AuditRecord.case_no == case_no, AuditRecord.kind == "decided")
        ).first()
    assert decided is not None
    local = decided.at.astimezone(CST)
    now = datetime.now(UTC)
    hour = local.hour
    around = {"day_starts_hour": hour, "day_ends_hour": hour + 1}  # the hour it was made in
    before = {"day_starts_hour": min(hour + 1, 23), "day_ends_hour": 24} if hour < 23 else None
    working = _calendar(local.year).is_working_day(local.date())
    found = _evaluate("off_hours_decision", case_no, now, **around)
    assert bool(found) is not working  # at the threshold: inside office hours on a working day
    if before is not None:
        late = _evaluate("off_hours_decision", case_no, now, **before)
        assert late and all(f.key.startswith(f"off_hours_decision:{case_no}:") for f in late)
        assert decided.seq in {s for f in late for s in f.event_seqs}


def test_a_catch_up_reads_the_trail_in_batches_without_duplicates(office: Path) -> None:
    engine = _engine()
    for n in range(7):
        record_account_event(engine, "security", "", f"被拒绝的请求 {n}", {})
    rule = get_rule("outside_change")
    assert run(engine, rules=[rule], batch=3).new == {"outside_change": 7}
    assert run(engine, rules=[rule], batch=3).new == {"outside_change": 0}
    with read_session(engine) as session:
        head = session.exec(select(AuditRecord.id).order_by(col(AuditRecord.id).desc())).first()
        cursor = session.get(CursorRecord, rule.code)
    assert cursor is not None and cursor.last_audit_id == head


def test_every_rule_declares_its_basis_and_valid_defaults() -> None:
    rules = all_rules()
    assert len({r.code for r in rules}) == len(rules) >= 4
    for rule in rules:
        assert rule.name_zh and rule.basis and isinstance(rule.severity, Severity)
        rule.Thresholds()  # the defaults pass the rule's own bounds
        assert get_rule(rule.code) is rule
