"""``cases show`` as a clerk reads it: the engine's own line breaks (the 一次告知 notice,
the departments of a joint task) on lines of their own, never written out as ``\\x0a``,
while control characters in applicants' text still are; a 容缺 supply named as such on
the timeline (补齐容缺材料, not 补正) and its finished 补齐材料 task shown as supplied,
not approved. The chains are picked from the registry, not named."""

from __future__ import annotations

from datetime import UTC, date, datetime

from cli.cases import show_state
from cli.output import stdout
from domain.case import DepartmentPart, Task, TaskKind, TaskStatus
from domain.materials import Acceptance, MaterialState, MaterialStatus, MissingNotice, notice_text
from tests.harness import CaseDriver, fresh_applicant
from tests.test_cli_cases import CLERK, cli, ok, wide_terminal  # noqa: F401  (the fixture)
from tui.demo import sample_state
from workflows import registry
from workflows.chain import Chain
from workflows.form_samples import sample_values

TODAY = date(2026, 11, 23)
HOSTILE = "阳光\x1b[2J\n教育"  # clears the screen; a line break typed into a name


def shown(state: object) -> str:
    with wide_terminal(), stdout.capture() as captured:
        show_state(state, TODAY, as_json=False)  # type: ignore[arg-type]
    return captured.get()


def test_engine_line_breaks_are_lines_and_outside_text_stays_inert() -> None:
    state = sample_state("JN-2026-00042", TODAY)
    missing = [
        MaterialStatus(code="a", name="场所使用证明", key=True, state=MaterialState.MISSING),
        MaterialStatus(code="b", name="从业人员健康证明", key=False, state=MaterialState.MISSING),
    ]
    text = notice_text(state.case_no, missing)
    state.notice = MissingNotice(
        issued_at=datetime(2026, 11, 20, tzinfo=UTC), items=missing, text=text
    )
    state.applicant = state.applicant.model_copy(update={"name": HOSTILE})
    state.tasks.append(
        Task(
            id="T9",
            kind=TaskKind.JOINT_SURVEY,
            name="联合踏勘",
            stage="联合踏勘",
            parts=[DepartmentPart(department="fire"), DepartmentPart(department="market")],
            started_at=datetime(2026, 11, 21, 2, tzinfo=UTC),
        )
    )
    out = shown(state)
    assert "\\x0a" not in out.replace("\\x1b[2J\\x0a", "")  # only the applicant's own
    lines = out.splitlines()
    assert any(line.endswith("一次性告知：请补齐以下 2 项材料") for line in lines)
    assert "1. 场所使用证明（关键材料）" in lines
    assert "2. 从业人员健康证明（非关键材料）" in lines
    survey = next(i for i, line in enumerate(lines) if "联合踏勘" in line and "T9" in line)
    assert "(fire)" in lines[survey] and "(market)" in lines[survey + 1]
    # The applicant's text: written out, never a line break or an escape code.
    assert "阳光\\x1b[2J\\x0a教育" in out and "\x1b" not in out


def _chain_with_deferred_items() -> Chain:
    """A registered chain that takes 容缺受理 and has a non-key material."""
    return next(
        c
        for c in registry.all_chains()
        if c.allow_incomplete and any(not m.key for m in c.materials)
    )


async def test_a_deferred_supply_is_not_called_a_correction(cli: CaseDriver) -> None:  # noqa: F811
    chain = _chain_with_deferred_items()
    deferred = next(m for m in chain.materials if not m.key)
    key = next(m for m in chain.materials if m.key)
    kind = "person" if chain.applicant_kind == "person" else "organisation"
    everything = [m.code for m in chain.materials]
    form = sample_values(chain.form)

    late = await cli.start(
        chain.code,
        form,
        applicant=fresh_applicant(kind),
        materials=[m for m in everything if m != deferred.code],
    )
    state = await cli.wait_for_tasks(late)
    assert state.acceptance is Acceptance.INCOMPLETE
    await ok("case", "supply-materials", late, "--item", deferred.code, "--as", CLERK)
    state = await cli.state(late)
    supply = next(e for e in state.events if e.kind == "materials_supplied")
    assert supply.summary == f"补齐容缺材料：{deferred.name}"
    task = next(t for t in state.tasks if t.kind is TaskKind.MATERIALS)
    assert task.status is TaskStatus.APPROVED and task.outcome == "supplied"
    with wide_terminal():
        out = (await ok("cases", "show", late)).stdout
    row = next(line for line in out.splitlines() if task.id in line and task.name in line)
    assert "supplied" in row and "approved" not in row
    assert "补齐容缺材料" in out and "收到补正材料" not in out

    # A key item brought after the notice is a correction (补正) of an unaccepted case.
    waiting = await cli.start(
        chain.code,
        form,
        applicant=fresh_applicant(kind),
        materials=[m for m in everything if m != key.code],
    )
    assert (await cli.wait_for_tasks(waiting)).acceptance is Acceptance.AWAITING_MATERIALS
    await ok("case", "supply-materials", waiting, "--item", key.code, "--as", CLERK)
    supply = next(e for e in (await cli.state(waiting)).events if e.kind == "materials_supplied")
    assert supply.summary == f"收到补正材料：{key.name}"
