"""``onechain simulate``: the department simulator, for demos and load.

It lists open tasks from the read model and decides them through the facade as the
departments' reviewers would (mostly approve, some returns for supplement with
plausible missing items, a few rejections), leaves some alone until they are overdue
so yellow and red cards happen, records returned items and missing materials as the
window after a while, and reports the applicant's events (e.g. a construction
project's completion notice). It works on every registered chain alike;
``--demo-cases N`` first starts N demo cases of each (forms built from each chain's
form model). The same ``--seed`` decides every task part the same way.

Exit codes: 0 ok (stopped with Ctrl-C or after --once), 2 bad usage, 3 Temporal or
the read model unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated, Any

import typer

from cli.output import EXIT_USAGE, emit_json, fail, guarded, message, note, styled, table
from domain.timezone import CST

WHAT_STYLE = {
    "approve": styled("同意", "green"),
    "return": styled("退回补正", "yellow"),
    "reject": styled("不同意", "red"),
    "supplement": styled("录入补正", "cyan"),
    "materials": styled("补齐材料", "cyan"),
    "event": styled("申请人告知", "cyan"),
    "refused": styled("refused", "dim"),
    "timeout": styled("timeout", "dim"),
}


@guarded
def simulate(
    rate: Annotated[
        float,
        typer.Option(
            metavar="DECISIONS_PER_MIN",
            min=0,
            help="Department decisions per minute (0 = as fast as possible).",
        ),
    ] = 30.0,
    seed: Annotated[
        int, typer.Option(help="Seed: the same seed decides every part the same way.")
    ] = 0,
    approve: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of decisions that approve.")
    ] = 0.85,
    return_share: Annotated[
        float,
        typer.Option(
            "--return",
            min=0.0,
            max=1.0,
            help="Share returned for supplement (退回补正); the rest of 1 - approve - return "
            "are rejections.",
        ),
    ] = 0.08,
    slow: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of department parts left alone until the task is overdue.",
        ),
    ] = 0.15,
    once: Annotated[
        bool, typer.Option("--once", help="One pass over the open tasks, then stop.")
    ] = False,
    supplement_after: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            min=0,
            help="The window records returned items / missing materials this long after.",
        ),
    ] = 60.0,
    complete_after: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            min=0,
            help="The window reports the applicant's completion notice this long after the wait began.",
        ),
    ] = 120.0,
    case_prefix: Annotated[
        str | None,
        typer.Option(metavar="PREFIX", help="Only cases whose number starts with PREFIX."),
    ] = None,
    poll: Annotated[
        float, typer.Option(metavar="SECONDS", min=0.1, help="Pause between passes.")
    ] = 2.0,
    json_out: Annotated[
        bool, typer.Option("--json", help="No action lines; a JSON summary at the end.")
    ] = False,
    demo_cases: Annotated[
        int,
        typer.Option(
            metavar="PER_CHAIN",
            min=0,
            help="First start this many demo cases of every registered chain (forms built "
            "from each chain's form model; DEMO-… numbers, existing ones skipped).",
        ),
    ] = 0,
) -> None:
    """Decide open tasks as the departments would (demo and load), until Ctrl-C."""
    from simulator.policy import Policy

    try:
        policy = Policy(seed=seed, approve=approve, return_share=return_share, slow=slow)
    except ValueError as error:
        fail(str(error), EXIT_USAGE)
    stats = asyncio.run(
        _simulate(
            policy,
            rate_per_min=rate,
            once=once,
            supplement_after=supplement_after,
            complete_after=complete_after,
            case_prefix=case_prefix,
            poll=poll,
            quiet=json_out,
            demo_cases=demo_cases,
        )
    )
    if json_out:
        emit_json({"seed": seed, "summary": stats.as_dict()})
    else:
        counts = stats.as_dict()
        table("Simulator summary", ["action", "count"], [[k, v] for k, v in counts.items()])


async def _simulate(
    policy: Any, *, quiet: bool, once: bool, poll: float, demo_cases: int, **options: Any
) -> Any:
    from client.facade import CaseDesk
    from runtime.connect import connect
    from simulator.engine import Simulator

    def show(log: Any) -> None:
        from domain.departments import department_name

        at = log.at.astimezone(CST).strftime("%H:%M:%S")
        what = WHAT_STYLE.get(log.what, log.what)
        message(
            f"{at} {log.case_no} {log.task_id} {department_name(log.actor)} ",
            what,
            f" {log.detail}",
        )

    from cli.actor import acting_for_each

    desk = CaseDesk(await connect(), credentials=acting_for_each())
    if demo_cases:
        from simulator.demo import seed_demo

        seeded = await seed_demo(desk, per_chain=demo_cases)
        if not quiet:
            note(
                f"demo: {seeded.started} case(s) started, {seeded.existing} already there "
                f"({len(seeded.results)} demo cases over every chain)"
            )
    simulator = Simulator(desk, policy, on_action=None if quiet else show, **options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def interrupted() -> None:
        if not stop.is_set():
            note("stopping after the action in flight…")
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, interrupted)
    if not quiet and not once:
        note("department simulator running; Ctrl-C to stop")
    return await simulator.run(stop, once=once, poll=poll)
