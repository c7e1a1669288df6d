"""``onechain server``, ``onechain worker`` and ``onechain up``: running the system."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from cli.actor import parse_actor
from domain.roles import Actor
from runtime.settings import get_settings

EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
DEFAULT_UP_ACTOR = "coordinator:coordinator::协调员"


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _say(line: str) -> None:
    typer.echo(line, err=True)


def _prepare_embedded_data() -> None:
    """The embedded default's data folder: owner-only files (the dev server child
    inherits the umask), and its keys, made once and said so."""
    from runtime.keys import KeystoreError, init_keys, keys_dir
    from runtime.private_files import make_private_dir, owner_only_umask

    settings = get_settings()
    owner_only_umask()
    make_private_dir(settings.data_dir)
    directory = keys_dir(settings)
    try:
        created = init_keys(directory)
    except (KeystoreError, OSError) as error:
        raise _fail(f"cannot set up the keys in {directory}: {error}", EXIT_USAGE) from None
    if created:
        _say(
            f"created keys {', '.join(created)} in {directory} (embedded default; keep it private)"
        )


_UI_CODEC_HELP = (
    "Codec server the Web UI decodes payloads with, e.g. http://127.0.0.1:8888 "
    "(run `onechain codec-server`); default $ONECHAIN_UI_CODEC_ENDPOINT."
)


def _stop_event() -> asyncio.Event:
    """An event set on SIGINT/SIGTERM, so shutdown runs in order instead of a traceback."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _run_worker_until_stopped(
    task_queue: str,
    stop: asyncio.Event | None = None,
    say: Callable[[str], None] = _say,
) -> None:
    """Run a worker until ``stop`` is set (by default: until SIGINT/SIGTERM)."""
    from runtime.connect import connect
    from runtime.keys import KeystoreError, keys_dir, load_lookup_key
    from worker import build_worker

    try:
        load_lookup_key(keys_dir(get_settings()))  # refuse now, not at the first licence
        client = await connect()
    except KeystoreError as error:
        raise _fail(str(error), EXIT_USAGE) from None
    except Exception as error:
        raise _fail(f"cannot reach Temporal: {error}", EXIT_UNREACHABLE) from None
    stop = stop or _stop_event()
    async with build_worker(client, task_queue):
        say(f"worker running on task queue {task_queue!r}")
        await stop.wait()
    say("worker stopped")


def worker(
    task_queue: Annotated[
        str | None, typer.Option(help="Task queue (default: ONECHAIN_TASK_QUEUE or 'onechain').")
    ] = None,
) -> None:
    """Run a worker against the Temporal named by TEMPORAL_* variables / envconfig profile.

    It needs the payload and lookup keys (keys folder or ONECHAIN_PAYLOAD_KEYS /
    ONECHAIN_LOOKUP_KEY) and never creates them: `onechain keys init` does.
    """
    from runtime.private_files import owner_only_umask

    owner_only_umask()
    asyncio.run(_run_worker_until_stopped(task_queue or get_settings().task_queue))


def server(
    port: Annotated[int, typer.Option(help="gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Web UI port.")] = 8233,
    ip: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    headless: Annotated[bool, typer.Option(help="No web UI.")] = False,
    ui_codec_endpoint: Annotated[str | None, typer.Option(help=_UI_CODEC_HELP)] = None,
) -> None:
    """Run the embedded Temporal dev server (SQLite in the data folder) in the foreground.

    Creates the data folder's keys if they are missing (embedded default).
    """
    from runtime.devserver import DevServerError, start_dev_server, stop_dev_server

    settings = get_settings()
    _prepare_embedded_data()
    try:
        process = start_dev_server(
            settings.temporal_db_file,
            ip=ip,
            port=port,
            ui_port=ui_port,
            headless=headless,
            ui_codec_endpoint=ui_codec_endpoint or os.environ.get("ONECHAIN_UI_CODEC_ENDPOINT"),
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


async def _serve(task_queue: str, *, demo: bool, tui_actor: Actor | None, log: Path) -> None:
    """The worker (and the demo) in the background; the console in the foreground
    unless headless. Quitting the console, or Ctrl-C when headless, stops everything."""
    from simulator.demo import run_demo_alongside

    if tui_actor is None:
        worker = _run_worker_until_stopped(task_queue)
        await (run_demo_alongside(worker, say=_say) if demo else worker)
        return
    # While the console owns the terminal, progress lines go to a log file instead.
    with log.open("a", encoding="utf-8") as lines:

        def to_log(line: str) -> None:
            lines.write(line + "\n")
            lines.flush()

        stop = asyncio.Event()
        worker = _run_worker_until_stopped(task_queue, stop, to_log)
        background = asyncio.create_task(run_demo_alongside(worker, say=to_log) if demo else worker)
        from cli.tui import make_app

        try:
            await make_app(tui_actor, os.environ.get("ONECHAIN_LANG") or "zh").run_async()
        finally:
            stop.set()
            await asyncio.gather(background, return_exceptions=True)


async def _up(
    port: int,
    ui_port: int,
    headless: bool,
    demo: bool = False,
    tui_actor: Actor | None = None,
    ui_codec_endpoint: str | None = None,
) -> None:
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
            ui_codec_endpoint=ui_codec_endpoint,
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
        await _serve(
            settings.task_queue, demo=demo, tui_actor=tui_actor, log=settings.data_dir / "up.log"
        )
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
    no_tui: Annotated[
        bool, typer.Option("--no-tui", help="Headless: no console; Ctrl-C stops.")
    ] = False,
    as_: Annotated[
        str | None,
        typer.Option("--as", help=f"Console user (default: $ONECHAIN_AS or {DEFAULT_UP_ACTOR})."),
    ] = None,
    ui_codec_endpoint: Annotated[str | None, typer.Option(help=_UI_CODEC_HELP)] = None,
) -> None:
    """Start the embedded default: the Temporal dev server, a worker and the console.

    Running it again resumes the same data (data/temporal.sqlite3, data/readmodel.sqlite3).
    With --demo: demo cases (DEMO-…) and the department simulator as well.
    Creates the data folder's keys if they are missing; data files are owner-only.
    """
    actor = (
        None if no_tui else parse_actor(as_ or os.environ.get("ONECHAIN_AS") or DEFAULT_UP_ACTOR)
    )
    _prepare_embedded_data()
    codec = ui_codec_endpoint or os.environ.get("ONECHAIN_UI_CODEC_ENDPOINT")
    asyncio.run(_up(port, ui_port, headless, demo, actor, codec))
    sys.stdout.flush()
