"""``onechain chains try CODE``: start one sample case of a chain on the running system
and say what to do next — the first thing an author does after ``chains check``.

The case is one import row (the demo's: the form built through the chain's model,
validators included, every material present), checked and started through the
importer's own code as the signed-in window clerk, so it is accepted exactly as a real
application would be. Then it waits for the worker to open the first tasks and prints
who must act: the departments of this form's flow, the reviewers the office has for
them (or the command to add one), one session per person, the commands that decide
the open tasks, and ``cases show``.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import typer

from cli.output import EXIT_REJECTED, EXIT_UNREACHABLE, EXIT_USAGE, emit_json, fail

#: How long to wait for the worker to open the case's first tasks.
FIRST_TASKS_SECONDS = 20.0
ACCEPTING = ("window_clerk", "coordinator")


@dataclass
class TryReport:
    """What ``chains try`` started and what comes next (also its ``--json``)."""

    case_no: str
    chain: str
    chain_name: str
    acceptance: str
    form: dict[str, Any]
    open_tasks: list[dict[str, Any]] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    reviewers: dict[str, list[str]] = field(default_factory=dict)
    worker_answered: bool = True

    def commands(self) -> list[str]:
        """The commands a person runs next, in order."""
        lines = []
        for dept in self.departments:
            people = self.reviewers.get(dept) or []
            if not people:
                lines.append(
                    f"onechain users add reviewer.{dept} --name 审查员 --role reviewer:{dept}"
                )
        for dept in self.departments:
            user = (self.reviewers.get(dept) or [f"reviewer.{dept}"])[0]
            lines.append(
                f"ONECHAIN_SESSION_FILE=~/.config/onechain/{user}.json "
                f"onechain login {user} --role reviewer:{dept}"
            )
        for task in self.open_tasks:
            for dept in task["departments"]:
                user = (self.reviewers.get(dept) or [f"reviewer.{dept}"])[0]
                lines.append(
                    f"ONECHAIN_SESSION_FILE=~/.config/onechain/{user}.json "
                    f"onechain case decide {self.case_no} {task['id']} --verdict approve "
                    '--reason "审查通过"'
                )
        lines.append(f"onechain cases show {self.case_no}")
        return lines


def sample_case_no(code: str, now: datetime) -> str:
    """A fresh number per try, to the millisecond: two tries in one second (an author
    trying twice, or tests) must not land on one case."""
    return f"TRY-{code.upper()}-{now:%Y%m%d%H%M%S}{now.microsecond // 1000:03d}"


def try_chain(code: str, role: str | None, case_no: str | None, as_json: bool) -> None:
    import chains  # noqa: F401  (registers the chains)
    from cli.actor import signed_actor
    from workflows import registry

    try:
        chain = registry.get_chain(code)
    except LookupError as unknown:
        fail(str(unknown), EXIT_USAGE)
    actor = signed_actor(role)
    if actor.role.value not in ACCEPTING:
        fail(
            f"a sample case is accepted by a window clerk or a coordinator, not "
            f"{actor.role.value}: sign in as one (`onechain login USER --role window_clerk`)",
            EXIT_USAGE,
        )
    now = datetime.now(UTC)
    number = case_no or sample_case_no(chain.code, now)
    request = _sample_request(chain.code, number, actor, now)
    grant = f"{actor.role.value}:{actor.department}" if actor.department else actor.role.value
    report = asyncio.run(_start_and_look(chain, request, grant, chosen=case_no is not None))
    if as_json:
        emit_json({**report.__dict__, "next": report.commands()})
    else:
        _print(report)
    if not report.worker_answered:
        raise typer.Exit(EXIT_UNREACHABLE)


def _sample_request(code: str, case_no: str, actor: Any, now: datetime) -> Any:
    """One import row of the demo's kind, checked by the importer: a CaseRequest."""
    from importing.columns import resolve_headers
    from importing.readers import RawRow, Sheet
    from importing.validate import check_sheet
    from simulator.demo import demo_row

    # the same sample every time for a chain (its form and applicant), so a second try
    # takes the same branches as the first
    row = demo_row(
        code, random.Random(f"try:{code}"), case_no=case_no, received_at=now, all_materials=True
    )
    headers = list(row)
    sheet = Sheet(headers=headers, rows=[RawRow(2, [row[h] for h in headers], [])], format="csv")
    checked = check_sheet(sheet, resolve_headers(headers, chain_given=False), actor=actor, now=now)
    if checked.problems:  # the sample is built through the model: a bug if it fails
        first = checked.problems[0]
        fail(f"sample row of chain {code}: {first.column}: {first.reason}", EXIT_REJECTED)
    return checked.valid_rows[0].request


async def _start_and_look(chain: Any, request: Any, grant: str, chosen: bool) -> TryReport:
    from cli.actor import credential_source
    from client.facade import CaseDesk
    from importing.starter import Outcome, start_cases
    from runtime.connect import connect
    from workflows.flow_analysis import explore, steps_of

    try:
        client = await connect()
    except Exception as error:
        fail(f"Temporal unreachable: {error}", EXIT_UNREACHABLE)
    desk = CaseDesk(client, credentials=credential_source(grant))
    started = await start_cases(desk, [(2, request)], concurrency=1)
    result = started.results[0]
    if result.outcome not in (Outcome.STARTED, Outcome.EXISTS):
        fail(f"case {request.case_no} not started: {result.outcome} {result.reason}", 1)
    if result.outcome is Outcome.EXISTS and not chosen:
        fail(f"case {request.case_no} exists already: try again (a new number each time)", 1)
    exploration = explore(chain, chain.version, dict(request.form))
    departments: list[str] = []
    for step in steps_of(exploration.base or []):
        departments += [d for d in step.departments if d not in departments]
    report = TryReport(
        case_no=request.case_no,
        chain=chain.code,
        chain_name=chain.name_zh,
        acceptance="",
        form=dict(request.form),
        departments=departments,
        reviewers=_reviewers(departments),
    )
    state = await _first_tasks(desk, request.case_no)
    if state is None:
        report.worker_answered = False
        return report
    report.acceptance = str(state.acceptance)
    report.open_tasks = [
        {
            "id": t.id,
            "name": t.name,
            "departments": t.departments,
            "limit_days": t.clock.limit_days if t.clock else None,
        }
        for t in state.open_tasks
    ]
    return report


async def _first_tasks(desk: Any, case_no: str) -> Any:
    """The case's state once it has open tasks (or has stopped at the window), or None
    when no worker answers in time."""
    deadline = time.monotonic() + FIRST_TASKS_SECONDS
    state = None
    while time.monotonic() < deadline:
        try:
            state = await asyncio.wait_for(desk.state(case_no), timeout=5)
        except Exception:
            state = None
        if state is not None and (state.open_tasks or str(state.acceptance) != "accepted"):
            return state
        await asyncio.sleep(0.5)
    return state


def _reviewers(departments: list[str]) -> dict[str, list[str]]:
    """The office's enabled reviewers of each department (empty when unknown)."""
    try:
        from readmodel.accounts import list_users
        from readmodel.database import read_session, ready_engine
        from runtime.settings import get_settings

        with read_session(ready_engine(get_settings().resolved_database_url)) as session:
            users = [u for u in list_users(session) if u.enabled]
    except Exception:  # no read model here: the reviewers are just not named
        return {}
    return {
        dept: sorted(u.user_id for u in users if f"reviewer:{dept}" in u.grants)
        for dept in departments
    }


def _print(report: TryReport) -> None:
    from domain.departments import department_name

    echo = typer.echo
    echo(f"started {report.case_no}: {report.chain_name} ({report.chain}), a sample application")
    if not report.worker_answered:
        echo(
            f"no worker answered within {FIRST_TASKS_SECONDS:.0f} s: start one (`onechain worker`)"
            " or restart it — a worker only knows the chains it imported when it started"
        )
        echo(f"then: onechain cases show {report.case_no}")
        return
    echo(f"acceptance: {report.acceptance}")
    echo("open now:")
    for task in report.open_tasks:
        names = "、".join(f"{department_name(d)}({d})" for d in task["departments"])
        days = task["limit_days"]
        limit = "" if days is None else (" · 即办" if days == 0 else f" · {days} 个工作日")
        echo(f"  {task['id']} {task['name']} · {names}{limit}")
    echo("departments that must act on this form's flow (reviewers the office has):")
    for dept in report.departments:
        people = report.reviewers.get(dept) or []
        who = ", ".join(people) if people else "none yet: add one (below)"
        echo(f"  {department_name(dept)}({dept}): {who}")
    echo("next (one session per person: each reviewer signs in with their own session file):")
    for line in report.commands():
        echo(f"  {line}")
