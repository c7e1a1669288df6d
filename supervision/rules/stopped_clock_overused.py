"""The stopped clock overused (特别程序/停表): a department whose cases go into special
procedures (hearing, testing, expert review…, 行政许可法 art. 45) far more often than
its peers, or one special procedure that runs on too long.

A special procedure stops the case's clock, so it is the lawful way to "not be late";
used on a large share of a department's cases, or left running for weeks, it hides
delay that 限时办结 is meant to show.

- Share: in a month (CST), the department's cases with a special procedure started on
  one of its tasks, over its cases that month (those it decided on, returned, or
  stopped). Fires above ``max_share_percent`` once the department has at least
  ``min_cases`` cases that month (so 1 of 2 does not fire).
- Length: a special procedure longer than ``max_working_days`` working days (office
  calendar), counted from its start day to its end: the ``special_ended`` on its task,
  or the task or case ending (which end it silently); one still running is measured
  to today, once per run, at the end of the trail.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from typing import cast

from pydantic import BaseModel, Field
from sqlmodel import col, select

from domain.departments import department_name
from domain.timezone import CST
from readmodel.audit import AuditRecord
from readmodel.tables import TaskRecord
from supervision import monthly
from supervision.rule import Context, Finding, Severity

STARTED = "special_started"
#: Events that end a running special procedure on their task (or, ``concluded``, all).
ENDS = ("special_ended", "task_concluded", "task_cancelled", "concluded")


class Thresholds(BaseModel):
    max_share_percent: float = Field(
        default=20, ge=0, le=100, description="share of a department's cases in a month"
    )
    min_cases: int = Field(
        default=10, ge=1, le=100_000, description="cases a department needs in the month"
    )
    max_working_days: int = Field(
        default=20, ge=1, le=250, description="working days one special procedure may run"
    )


class StoppedClockOverused:
    code = "stopped_clock_overused"
    name_zh = "特别程序（停表）使用过多或过长"
    basis = (
        "《行政许可法》第四十五条：听证、招标、拍卖、检验、检测、检疫、鉴定和专家评审所需时间"
        "不计算在期限内，但应将所需时间书面告知申请人；该法未规定特别程序的最长时间，"
        "也未规定比例上限。比例上限与时长上限（默认 20 个工作日，同一机关办理的基本时限）"
        "均为本地监察口径，用以落实限时办结制度（山东省简化优化公共服务流程）。"
    )
    severity = Severity.MEDIUM
    Thresholds = Thresholds

    def evaluate(self, context: Context) -> Iterable[Finding]:
        limits = cast(Thresholds, context.thresholds)
        yield from self._shares(context, limits)
        yield from self._ended_long(context, limits)
        if context.final:  # a state check: once per run, at the end of a catch-up
            yield from self._running_long(context, limits)

    # ------------------------------------------------------------------ share
    def _shares(self, context: Context, limits: Thresholds) -> Iterator[Finding]:
        for month in monthly.months_due(context, (STARTED, *monthly.DECISION_KINDS)):
            rows = monthly.rows_in_month(
                context.session,
                month,
                (STARTED, *monthly.DECISION_KINDS),
                monthly.through_id(context),
            )
            starts = [r for r in rows if r.kind == STARTED and r.task_id]
            owners = monthly.task_departments(
                context.session, {(r.case_no, r.task_id) for r in starts if r.task_id}
            )
            stopped: dict[str, set[str]] = defaultdict(set)
            evidence: dict[str, list[monthly.Row]] = defaultdict(list)
            for row in starts:
                for department in owners.get((row.case_no, row.task_id or ""), []):
                    stopped[department].add(row.case_no)
                    evidence[department].append(row)
            cases = monthly.department_cases(rows)
            for department, stopped_cases in sorted(stopped.items()):
                total = len(cases.get(department, set()) | stopped_cases)
                share = monthly.percent(len(stopped_cases), total)
                if total < limits.min_cases or share <= limits.max_share_percent:
                    continue
                yield Finding(
                    rule=self.code,
                    key=f"{self.code}:dept:{department}:{month}",
                    case_no=None,
                    severity=self.severity,
                    sentence=(
                        f"{department_name(department)} {month} 经办的 {total} 件案件中有 "
                        f"{len(stopped_cases)} 件启用特别程序停表（{share:.0f}%，上限 "
                        f"{limits.max_share_percent:g}%），请核查停表是否必要。"
                    ),
                    department=department,
                    audit_ids=tuple(r.id for r in evidence[department]),
                )

    # ----------------------------------------------------------------- length
    def _ended_long(self, context: Context, limits: Thresholds) -> Iterator[Finding]:
        ending = [r for r in context.new_rows if r.kind in ENDS and r.case_no]
        if not ending:
            return
        history = _case_rows(context, {r.case_no for r in ending if r.case_no})
        new_ids = {r.id for r in ending}
        for rows in history.values():
            for start, end in _spans(rows):
                if end is None or end.id not in new_ids:
                    continue
                yield from self._if_long(context, limits, start, end.at.astimezone(CST).date())

    def _running_long(self, context: Context, limits: Thresholds) -> Iterator[Finding]:
        stopped = context.session.exec(
            select(TaskRecord.case_no, TaskRecord.task_id)
            .where(TaskRecord.status == "open")
            .where(col(TaskRecord.stopped).is_(True))
        ).all()
        if not stopped:
            return
        wanted = set(stopped)
        today = context.now.astimezone(CST).date()
        history = _case_rows(context, {case_no for case_no, _ in stopped})
        for case_no, rows in history.items():
            for start, end in _spans(rows):
                task_id = (start.data or {}).get("task_id")
                if end is None and (case_no, task_id) in wanted:
                    yield from self._if_long(context, limits, start, today)

    def _if_long(
        self, context: Context, limits: Thresholds, start: AuditRecord, through: date
    ) -> Iterator[Finding]:
        began = start.at.astimezone(CST).date()
        days = context.calendar.working_days_between(began, through)
        if days <= limits.max_working_days:
            return
        task_id = (start.data or {}).get("task_id")
        yield Finding(
            rule=self.code,
            key=f"{self.code}:long:{start.case_no}:{task_id}:{start.seq}",
            case_no=start.case_no,
            severity=self.severity,
            sentence=(
                f"案件 {start.case_no} 的任务 {task_id} 自 {began} 起启用特别程序停表，"
                f"至 {through} 已 {days} 个工作日（上限 {limits.max_working_days} 个工作日），"
                "请核查是否应恢复计时。"
            ),
            person=start.actor_id or None,
            event_seqs=(start.seq,) if start.seq is not None else (),
            audit_ids=(start.id,) if start.id is not None else (),
        )


def _case_rows(context: Context, case_nos: set[str]) -> dict[str, list[AuditRecord]]:
    """The special-procedure starts and their possible ends of each case, in order."""
    found: dict[str, list[AuditRecord]] = defaultdict(list)
    ordered = sorted(case_nos)
    for offset in range(0, len(ordered), monthly.CHUNK):
        chunk = ordered[offset : offset + monthly.CHUNK]
        stopped = (  # most cases never stop their clock: read only those that did
            select(AuditRecord.case_no)
            .where(col(AuditRecord.case_no).in_(chunk))
            .where(AuditRecord.kind == STARTED)
        )
        for row in context.session.exec(
            select(AuditRecord)
            .where(col(AuditRecord.case_no).in_(stopped))
            .where(col(AuditRecord.kind).in_((STARTED, *ENDS)))
            .order_by(col(AuditRecord.id))
        ):
            assert row.case_no is not None
            found[row.case_no].append(row)
    return found


def _spans(rows: list[AuditRecord]) -> Iterator[tuple[AuditRecord, AuditRecord | None]]:
    """Each special procedure of one case: its start and the row that ended it (None
    while it runs). One runs at a time per task (the engine refuses a second)."""
    running: dict[str | None, AuditRecord] = {}
    for row in sorted(rows, key=lambda r: r.seq or 0):
        task_id = (row.data or {}).get("task_id")
        if row.kind == STARTED:
            running[task_id] = row
        elif row.kind == "concluded":
            for start in running.values():
                yield start, row
            running.clear()
        elif task_id in running:
            yield running.pop(task_id), row
    for start in running.values():
        yield start, None


RULE = StoppedClockOverused()
