"""``onechain doctor``: is this deployment healthy? One line per check, plain words.

Exit codes: 0 every check ok, 1 warnings only, 2 something fails.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer

from cli.output import emit_json, message


def doctor(
    task_queue: Annotated[
        str | None,
        typer.Option(help="Task queue the workers poll (default: ONECHAIN_TASK_QUEUE)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
) -> None:
    """Check a deployment: Temporal reachable, namespace, search attributes, a worker
    polling, the read model's schema, people, calendar coverage, signing keys, and
    that the read model knows every case Temporal holds (a lost read model fails).

    Exit codes: 0 all ok, 1 warnings, 2 failures.
    """
    from doctor.findings import exit_code
    from doctor.run import Deployment, examine
    from domain.timezone import cst_date

    deployment = Deployment.configured(cst_date(datetime.now(UTC)), task_queue)
    findings = asyncio.run(examine(deployment))
    code = exit_code(findings)
    if as_json:
        emit_json({"exit_code": code, "checks": [f.as_json() for f in findings]})
    else:
        for finding in findings:
            message(finding.line())
    raise typer.Exit(code)
