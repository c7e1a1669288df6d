"""Made-up but realistic read-model rows and case states, for the console's
snapshots, its benchmark and trying it out without running cases.

Everything is deterministic for a given ``seed`` and ``today``. The rows go
through ``readmodel.projection`` exactly as the workflow's would.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine

from domain.calendar import Pause
from domain.case import (
    ApplicantView,
    CaseState,
    CaseStatus,
    Clock,
    DepartmentPart,
    Event,
    Extension,
    Licence,
    Suspension,
    SuspensionKind,
    Task,
    TaskKind,
    TaskStatus,
    Verdict,
)
from domain.projection import CaseRow, EventRow, ProjectionBatch, TaskRow
from domain.roles import SYSTEM_ACTOR, Actor, Role
from domain.timezone import CST
from readmodel.database import write_session
from readmodel.projection import apply_batch

CHAINS: dict[str, tuple[list[str], list[str]]] = {
    # chain: (stages of a running case, departments)
    "kindergarten": (
        ["并联预审", "联合踏勘", "并联审批", "登记", "出件"],
        ["education", "fire", "health", "market", "civil_affairs"],
    ),
    "restaurant": (["并联审批", "出件"], ["market", "fire", "urban", "ecology"]),
    "company": (
        ["营业执照", "并联办理", "出件"],
        ["market", "public_security", "bank", "tax", "hrss"],
    ),
    "construction": (
        ["用地规划", "多图联审", "多评合一", "施工许可", "联合验收"],
        [
            "natural_resources",
            "fire",
            "civil_defence",
            "housing",
            "ecology",
            "water",
            "seismic",
            "traffic",
        ],
    ),
}
NAMES = [
    "阳光",
    "启明",
    "春苗",
    "金穗",
    "华联",
    "东方",
    "蓝天",
    "新城",
    "和美",
    "瑞丰",
    "嘉禾",
    "丰泽",
]
KINDS = {
    "kindergarten": "幼儿园",
    "restaurant": "餐饮店",
    "company": "科技有限公司",
    "construction": "置业有限公司",
}
CLERK = Actor(user_id="clerk1", name="窗口张三", role=Role.WINDOW_CLERK, department="window")
COORDINATOR = Actor(user_id="coord1", name="协调李四", role=Role.COORDINATOR)


def _at(day: date, hour: int = 9, minute: int = 30) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CST).astimezone(UTC)


def case_number(index: int) -> str:
    return f"JN-2026-{index:05d}"


def sample_batches(
    count: int, today: date, seed: int = 7, calendar_revision: str = ""
) -> Iterator[ProjectionBatch]:
    """``count`` cases: about 80% running (10% yellow, 6% red), the rest concluded, all
    on ``calendar_revision``."""
    rng = random.Random(seed)
    chains = list(CHAINS)
    for index in range(1, count + 1):
        chain = chains[index % len(chains)]
        stages, departments = CHAINS[chain]
        case_no = case_number(index)
        accepted = today - timedelta(days=rng.randint(0, 20))
        running = rng.random() < 0.8
        roll = rng.random()
        warning = (
            "red" if running and roll < 0.06 else "yellow" if running and roll < 0.16 else "none"
        )
        stage = rng.choice(stages) if running else rng.choice(["办结", "办结", "撤回"])
        status = "running"
        if not running:
            status = {"撤回": "withdrawn"}.get(
                stage, rng.choice(["approved", "approved", "not_approved"])
            )
        open_departments = (
            rng.sample(departments, k=min(len(departments), rng.randint(1, 3))) if running else []
        )
        if warning == "red":
            next_due = today - timedelta(days=rng.randint(1, 4))
        elif warning == "yellow":
            next_due = today + timedelta(days=rng.randint(0, 2))
        else:
            next_due = today + timedelta(days=rng.randint(3, 30))
        concluded_at = (
            None if running else _at(min(today, accepted + timedelta(days=rng.randint(1, 6))), 15)
        )
        name = f"{rng.choice(NAMES)}{KINDS[chain]}"
        updated = _at(today, 8)
        case = CaseRow(
            case_no=case_no,
            chain=chain,
            chain_version=1,
            status=status,
            stage=stage,
            applicant_name=f"济宁市{name}",
            applicant_id_masked=f"9137{'*' * 10}{rng.randint(1000, 9999)}",
            received_at=_at(accepted),
            accepted_on=accepted,
            due_on=next_due + timedelta(days=3),
            provisional=False,
            statutory_due_on=next_due + timedelta(days=30),
            warning=warning,
            case_warning=warning if rng.random() < 0.5 else "none",
            open_departments=open_departments,
            next_due_on=next_due if running else None,
            updated_at=updated,
            concluded_at=concluded_at,
            last_seq=2,
            promised_clock=_clock(
                accepted,
                20,
                next_due + timedelta(days=3),
                warned=warning != "none",
            ).model_dump(mode="json")
            if running
            else None,
            calendar_revision=calendar_revision,
        )
        tasks = [
            TaskRow(
                case_no=case_no,
                task_id=f"T{n + 1}",
                kind="review",
                name=f"{stage}审查",
                stage=stage,
                departments=[dept],
                open_departments=[dept] if running else [],
                assignees=[f"{'王李张'[index % 3]}经办"] if running and index % 2 else [],
                status=("returned" if rng.random() < 0.05 else "open") if running else "approved",
                started_at=_at(accepted, 10),
                concluded_at=None if running else concluded_at,
                due_on=next_due,
                provisional=False,
                warning=warning if n == 0 else "none",
                stopped=running and index % 13 == 0 and n == 0,
                extension_days=0,
                clock=_clock(
                    accepted,
                    5,
                    next_due,
                    warned=n == 0 and warning != "none",
                    overdue=n == 0 and warning == "red",
                    pauses=[Pause(start=today - timedelta(days=1))]
                    if running and index % 13 == 0 and n == 0
                    else [],
                ).model_dump(mode="json")
                if running
                else None,
            )
            for n, dept in enumerate(open_departments or departments[:1])
        ]
        events = [
            EventRow(
                case_no=case_no,
                seq=1,
                at=_at(accepted),
                kind="accepted",
                actor_id=CLERK.user_id,
                actor_name=CLERK.name,
                actor_role=CLERK.role.value,
                department=None,
                task_id=None,
                summary="受理",
                reason="",
            ),
            EventRow(
                case_no=case_no,
                seq=2,
                at=_at(accepted, 10),
                kind="task_opened",
                actor_id="system",
                actor_name="系统",
                actor_role="system",
                department=None,
                task_id="T1",
                summary=f"T1 {stage}审查",
                reason="",
            ),
        ]
        yield ProjectionBatch(case=case, tasks=tasks, events=events)


def fill(engine: Engine, count: int, today: date, seed: int = 7, chunk: int = 2000) -> None:
    """Write ``count`` sample cases, ``chunk`` per transaction (on the database's current
    calendar revision, as if every load had reached them)."""
    from readmodel.calendar_store import calendar_revision

    batches = sample_batches(count, today, seed, calendar_revision(engine))
    done = False
    while not done:
        with write_session(engine) as session:
            for _ in range(chunk):
                batch = next(batches, None)
                if batch is None:
                    done = True
                    break
                apply_batch(session, batch)


def _clock(start: date, limit: int, due: date, **kwargs: object) -> Clock:
    return Clock(
        started_on=start,
        limit_days=limit,
        warn_at_days_left=max(1, limit // 5),
        max_extension_days=15,
        due_on=due,
        **kwargs,  # type: ignore[arg-type]
    )


def sample_state(case_no: str, today: date) -> CaseState:
    """A kindergarten case in its decisions stage: one step overdue, one returned
    for supplement, one special procedure, one extension, a licence already issued."""
    accepted = today - timedelta(days=14)
    fire = Actor(user_id="rev-fire", name="消防审查员", role=Role.REVIEWER, department="fire")
    health = Actor(user_id="rev-health", name="卫健审查员", role=Role.REVIEWER, department="health")
    tasks = [
        Task(
            id="T1",
            kind=TaskKind.REVIEW,
            name="办学许可预审",
            stage="并联预审",
            parts=[
                DepartmentPart(
                    department="education",
                    verdict=Verdict.APPROVE,
                    decided_by=Actor(
                        user_id="rev-education",
                        name="教育审查员",
                        role=Role.REVIEWER,
                        department="education",
                    ),
                    decided_at=_at(accepted + timedelta(days=2)),
                )
            ],
            status=TaskStatus.APPROVED,
            started_at=_at(accepted, 10),
            concluded_at=_at(accepted + timedelta(days=2)),
            clock=_clock(accepted, 3, accepted + timedelta(days=3), running=False),
        ),
        Task(
            id="T2",
            kind=TaskKind.REVIEW,
            name="消防安全检查",
            stage="并联审批",
            parts=[DepartmentPart(department="fire", assignee="王工")],
            started_at=_at(today - timedelta(days=8), 10),
            clock=_clock(
                today - timedelta(days=8), 5, today - timedelta(days=1), warned=True, overdue=True
            ),
            urge_count=1,
        ),
        Task(
            id="T3",
            kind=TaskKind.REVIEW,
            name="托幼机构卫生保健评价",
            stage="并联审批",
            parts=[DepartmentPart(department="health")],
            status=TaskStatus.RETURNED,
            started_at=_at(today - timedelta(days=6), 10),
            clock=_clock(
                today - timedelta(days=6),
                5,
                today + timedelta(days=4),
                pauses=[Pause(start=today - timedelta(days=2))],
                stopped=True,
            ),
            missing_items=["食堂平面布局图", "保育员健康证明"],
        ),
        Task(
            id="T4",
            kind=TaskKind.REVIEW,
            name="食品经营许可审查",
            stage="并联审批",
            parts=[DepartmentPart(department="market", assignee="李科长")],
            started_at=_at(today - timedelta(days=6), 10),
            clock=_clock(today - timedelta(days=6), 5, today + timedelta(days=1), warned=True),
        ),
    ]
    events = [
        Event(
            seq=1,
            at=_at(accepted),
            kind="accepted",
            actor=CLERK,
            summary="受理：我要开幼儿园，承诺期限 " + (accepted + timedelta(days=28)).isoformat(),
        ),
        Event(
            seq=2,
            at=_at(accepted, 10),
            kind="task_opened",
            actor=SYSTEM_ACTOR,
            summary="T1 办学许可预审（教育局）",
            task_id="T1",
        ),
        Event(
            seq=3,
            at=_at(accepted + timedelta(days=2)),
            kind="decided",
            actor=tasks[0].parts[0].decided_by or CLERK,
            summary="T1 教育局同意",
            task_id="T1",
            department="education",
        ),
        Event(
            seq=4,
            at=_at(today - timedelta(days=8), 10),
            kind="task_opened",
            actor=SYSTEM_ACTOR,
            summary="T2 消防安全检查（消防救援支队）",
            task_id="T2",
        ),
        Event(
            seq=5,
            at=_at(today - timedelta(days=2), 11),
            kind="returned",
            actor=health,
            summary="T3 退回补正：食堂平面布局图、保育员健康证明",
            reason="材料不全",
            task_id="T3",
            department="health",
        ),
        Event(
            seq=6,
            at=_at(today - timedelta(days=1), 9),
            kind="urged",
            actor=COORDINATOR,
            summary="T2 催办 消防救援支队（第 1 次）",
            reason="即将超期",
            task_id="T2",
        ),
        Event(
            seq=7,
            at=_at(today, 0, 0),
            kind="task_overdue",
            actor=SYSTEM_ACTOR,
            summary="T2 消防安全检查 超期（期限 " + (today - timedelta(days=1)).isoformat() + "）",
            task_id="T2",
        ),
    ]
    del fire
    return CaseState(
        case_no=case_no,
        chain="kindergarten",
        chain_name="我要开幼儿园",
        chain_version=1,
        stage="并联审批",
        applicant=ApplicantView(
            kind="organisation",
            name="济宁市阳光教育咨询有限公司",
            id_masked="9137**********YB7E",
            phone_masked="138****8000",
        ),
        received_at=_at(accepted),
        accepted_on=accepted,
        promised=_clock(accepted, 20, accepted + timedelta(days=28), extension_days=5, warned=True),
        statutory=_clock(accepted, 45, accepted + timedelta(days=63)),
        tasks=tasks,
        suspensions=[
            Suspension(
                id="S1",
                kind=SuspensionKind.SUPPLEMENT,
                reason="材料不全",
                task_id="T3",
                start=today - timedelta(days=2),
                started_by=health,
            ),
        ],
        extensions=[
            Extension(
                target="case",
                days=5,
                reason="联合踏勘延后",
                granted_by=COORDINATOR,
                granted_on=today - timedelta(days=3),
                new_due_on=accepted + timedelta(days=28),
            ),
        ],
        licences=[
            Licence(
                type="school_licence",
                name="民办学校办学许可证",
                number="SCHOOL_LICENCE-" + case_no,
                department="education",
                holder_name="济宁市阳光教育咨询有限公司",
                issued_on=today - timedelta(days=1),
                case_no=case_no,
            ),
        ],
        events=events,
        status=CaseStatus.RUNNING,
    )
