"""``onechain server``, ``onechain worker`` and ``onechain up``: running the system."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Annotated

import typer

from runtime.settings import get_settings

EXIT_UNREACHABLE = 3


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _stop_event() -> asyncio.Event:
    """An event set on SIGINT/SIGTERM, so shutdown runs in order instead of a traceback."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _run_worker_until_stopped(task_queue: str) -> None:
    from runtime.connect import connect
    from worker import build_worker

    try:
        client = await connect()
    except Exception as error:
        raise _fail(f"cannot reach Temporal: {error}", EXIT_UNREACHABLE) from None
    stop = _stop_event()
    async with build_worker(client, task_queue):
        typer.echo(f"worker running on task queue {task_queue!r}; Ctrl-C to stop", err=True)
        await stop.wait()
    typer.echo("worker stopped", err=True)


def worker(
    task_queue: Annotated[
        str | None, typer.Option(help="Task queue (default: ONECHAIN_TASK_QUEUE or 'onechain').")
    ] = None,
) -> None:
    """Run a worker against the Temporal named by TEMPORAL_* variables / envconfig profile."""
    asyncio.run(_run_worker_until_stopped(task_queue or get_settings().task_queue))


def server(
    port: Annotated[int, typer.Option(help="gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Web UI port.")] = 8233,
    ip: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    headless: Annotated[bool, typer.Option(help="No web UI.")] = False,
) -> None:
    """Run the embedded Temporal dev server (SQLite in the data folder) in the foreground."""
    from runtime.devserver import DevServerError, start_dev_server, stop_dev_server

    settings = get_settings()
    try:
        process = start_dev_server(
            settings.temporal_db_file, ip=ip, port=port, ui_port=ui_port, headless=headless
        )
    except DevServerError as error:
        raise _fail(str(error), EXIT_UNREACHABLE) from None
    typer.echo(f"Temporal dev server on {ip}:{port}, data in {settings.temporal_db_file}", err=True)
    try:
        code = process.wait()
    except KeyboardInterrupt:
        stop_dev_server(process)
        code = 0
    raise typer.Exit(code)


async def _up(port: int, ui_port: int, headless: bool, demo: bool = False) -> None:
    import os

    from runtime.devserver import (
        DevServerError,
        start_dev_server,
        stop_dev_server,
        wait_until_serving,
    )

    settings = get_settings()
    address = f"127.0.0.1:{port}"
    try:
        process = start_dev_server(
            settings.temporal_db_file,
            port=port,
            ui_port=ui_port,
            headless=headless,
            log_file=settings.data_dir / "temporal.log",
        )
    except DevServerError as error:
        raise _fail(str(error), EXIT_UNREACHABLE) from None
    try:
        try:
            await wait_until_serving(address, process)
        except DevServerError as error:
            raise _fail(
                f"{error} (see {settings.data_dir / 'temporal.log'})", EXIT_UNREACHABLE
            ) from None
        os.environ["TEMPORAL_ADDRESS"] = address
        ui = "" if headless else f", web UI http://127.0.0.1:{ui_port}"
        typer.echo(f"onechain up: Temporal {address}{ui}; data in {settings.data_dir}", err=True)
        if demo:
            from simulator.demo import run_demo_alongside

            await run_demo_alongside(
                _run_worker_until_stopped(settings.task_queue),
                say=lambda line: typer.echo(line, err=True),
            )
        else:
            await _run_worker_until_stopped(settings.task_queue)
    finally:
        stop_dev_server(process)
        typer.echo("Temporal dev server stopped; run `onechain up` again to resume", err=True)


def up(
    port: Annotated[int, typer.Option(help="Temporal gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal web UI port.")] = 8233,
    headless: Annotated[bool, typer.Option(help="No Temporal web UI.")] = False,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Also seed demo cases for every chain (existing ones are skipped) and run "
            "the department simulator in the same process.",
        ),
    ] = False,
) -> None:
    """Start the embedded default: the Temporal dev server and a worker, until Ctrl-C.

    Running it again resumes the same data (data/temporal.sqlite3, data/readmodel.sqlite3).
    With --demo: demo cases (DEMO-…) and the department simulator as well.
    """
    asyncio.run(_up(port, ui_port, headless, demo))
    sys.stdout.flush()
