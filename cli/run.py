"""``onechain server``, ``onechain worker`` and ``onechain up``: running the system."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.db import require_read_model
from domain.text import visible
from runtime.settings import get_settings
from trust.credentials import Credentials

if TYPE_CHECKING:
    from cli.web import WebConsole
    from runtime.watchdog import DevServerWatch

EXIT_USAGE = 2
#: The Temporal port every command uses unless TEMPORAL_ADDRESS says otherwise.
DEFAULT_PORT = 7233
EXIT_UNREACHABLE = 3


#: Set by ``configure_service_logging``: lines for the operator go through logging, so a
#: JSON log stays one object per line.
_lines_via_logging = False


def _fail(message: str, code: int) -> typer.Exit:
    if _lines_via_logging:
        import logging

        logging.getLogger("onechain.run").error(message)
    else:
        typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _say(line: str) -> None:
    if _lines_via_logging:
        import logging

        logging.getLogger("onechain.run").info(line)
        return
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


def _new_data_folder() -> bool:
    """Whether ``up`` runs for the first time on the embedded default: the data folder
    holds neither Temporal's database nor the read model. Only then may ``up`` create
    the read model; a data folder with Temporal's file but no read model lost it."""
    from readmodel.database import sqlite_file

    settings = get_settings()
    if settings.database_url is not None:
        return False
    read_model = sqlite_file(settings.resolved_database_url)
    return not settings.temporal_db_file.exists() and not (read_model and read_model.exists())


_UI_CODEC_HELP = (
    "Codec server the Web UI decodes payloads with, e.g. http://127.0.0.1:8888 "
    "(run `onechain codec-server`); default $ONECHAIN_UI_CODEC_ENDPOINT."
)


def _hang_up(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


#: What ends a run in order: Ctrl-C, `kill`/systemd, and the terminal closing.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _stop_event() -> asyncio.Event:
    """An event set on SIGINT/SIGTERM/SIGHUP, so shutdown runs in order instead of a
    traceback (and the dev server ``up`` started is stopped, not orphaned)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


@contextlib.contextmanager
def _closing_the_console_on_signals(app: Any) -> Iterator[None]:
    """While the console runs: SIGTERM, or SIGHUP (its terminal closed), ends the app
    the way quitting does, so the worker and the dev server are stopped in order.
    (A KeyboardInterrupt raised into the running app instead left ``up`` waiting
    forever in asyncio's task cancellation, with its dev server still running.)"""
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, app.exit)
            handled.append(sig)
    try:
        yield
    finally:  # while the worker and the server stop, a second signal changes nothing
        for sig in handled:
            loop.add_signal_handler(sig, lambda: None)


async def _run_worker_until_stopped(
    task_queue: str,
    stop: asyncio.Event | None = None,
    say: Callable[[str], None] = _say,
    metrics: str | None = None,
) -> None:
    """Run a worker until ``stop`` is set (by default: until SIGINT/SIGTERM); with
    ``metrics`` (HOST:PORT) it serves Prometheus metrics there."""
    from runtime.connect import connect
    from runtime.keys import KeystoreError, keys_dir, load_audit_keys, load_lookup_key
    from worker import build_worker, serve_metrics

    sdk_runtime = _metrics_runtime(metrics) if metrics else None
    try:
        load_lookup_key(keys_dir(get_settings()))  # refuse now, not at the first licence
        load_audit_keys(keys_dir(get_settings()))  # ... nor at the first audit row
        client = await connect(sdk_runtime)
    except KeystoreError as error:
        raise _fail(str(error), EXIT_USAGE) from None
    except Exception as error:
        raise _fail(f"cannot reach Temporal: {error}", EXIT_UNREACHABLE) from None
    stop = stop or _stop_event()
    async with (
        build_worker(client, task_queue),
        serve_metrics(sdk_runtime, namespace=client.namespace, task_queue=task_queue),
    ):
        say(f"worker running on task queue {task_queue!r}")
        if metrics:
            say(f"metrics on http://{metrics}/metrics")
        await stop.wait()
    say("worker stopped")


def _metrics_runtime(address: str) -> Any:
    from runtime.metrics import MetricsAddressError, metrics_runtime

    try:
        return metrics_runtime(address)
    except MetricsAddressError as error:
        # The port is taken (or the address not up yet): a condition that passes, so the
        # exit code a service manager retries (3), not the one it gives up on (2).
        raise _fail(str(error), EXIT_UNREACHABLE) from None


MetricsOption = Annotated[
    str | None,
    typer.Option(
        "--metrics",
        metavar="HOST:PORT",
        help="Serve Prometheus metrics (Temporal SDK's and onechain's) at http://HOST:PORT/metrics.",
    ),
]


def worker(
    task_queue: Annotated[
        str | None, typer.Option(help="Task queue (default: ONECHAIN_TASK_QUEUE or 'onechain').")
    ] = None,
    metrics: MetricsOption = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help="text (default) or json: one object per line with level, logger, case_no "
            "(default: $ONECHAIN_LOG_FORMAT).",
        ),
    ] = None,
) -> None:
    """Run a worker against the Temporal named by TEMPORAL_* variables / envconfig profile.

    It needs the payload, lookup and audit keys (keys folder or ONECHAIN_PAYLOAD_KEYS /
    ONECHAIN_LOOKUP_KEY / ONECHAIN_AUDIT_KEY) and never creates them: `onechain keys init`
    does. It anchors the audit chain's head in ONECHAIN_AUDIT_ANCHORS every minute.
    """
    from runtime.private_files import owner_only_umask

    configure_service_logging(log_format)
    owner_only_umask()
    require_read_model(say=_say)
    if metrics:
        _check_metrics_address(metrics)
    asyncio.run(_run_worker_until_stopped(task_queue or get_settings().task_queue, metrics=metrics))


def configure_service_logging(log_format: str | None = None) -> None:
    """Log lines with level and logger on stderr, as text or JSON (``runtime.log_setup``)."""
    from runtime.log_setup import configure

    global _lines_via_logging
    chosen = log_format or get_settings().log_format
    if chosen not in ("text", "json"):
        raise _fail(f"--log-format {chosen!r}: choose text or json", EXIT_USAGE)
    configure("json" if chosen == "json" else "text")
    _lines_via_logging = chosen == "json"


def _check_metrics_address(address: str) -> None:
    from runtime.metrics import MetricsAddressError, check_bind_address

    try:
        check_bind_address(address)
    except MetricsAddressError as error:
        raise _fail(str(error), EXIT_USAGE) from None


def server(
    port: Annotated[int, typer.Option(help="gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Web UI port.")] = 8233,
    ip: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    headless: Annotated[
        bool, typer.Option("--no-web-ui", "--headless", help="No Temporal web UI.")
    ] = False,
    ui_codec_endpoint: Annotated[str | None, typer.Option(help=_UI_CODEC_HELP)] = None,
) -> None:
    """Run the embedded Temporal dev server (SQLite in the data folder) in the foreground.

    Creates the data folder's keys if they are missing (embedded default).
    """
    from runtime.devserver import DevServerError, start_dev_server, stop_dev_server

    _prepare_embedded_data()  # keys first: a read-model upgrade may need the lookup key
    require_read_model(say=_say)  # checked, never made here (`onechain db upgrade` makes it)
    settings = get_settings()
    log_file = settings.data_dir / "temporal.log"
    try:
        process = start_dev_server(
            settings.temporal_db_file,
            ip=ip,
            port=port,
            ui_port=ui_port,
            headless=headless,
            log_file=log_file,
            ui_codec_endpoint=ui_codec_endpoint or os.environ.get("ONECHAIN_UI_CODEC_ENDPOINT"),
        )
    except DevServerError as error:
        raise _fail(str(error), EXIT_UNREACHABLE) from None

    def terminated(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (systemd, docker, kill) stops the child too

    signal.signal(signal.SIGTERM, terminated)
    try:
        typer.echo(
            f"Temporal dev server on {ip}:{port}, data in {settings.temporal_db_file}, "
            f"its log in {log_file}",
            err=True,
        )
        code = process.wait()
    except KeyboardInterrupt:
        stop_dev_server(process)
        typer.echo(f"Temporal dev server stopped (pid {process.pid})", err=True)
        raise typer.Exit(0) from None
    # Nobody asked it to stop: say so, with its last words, and fail.
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    typer.echo(f"error: the Temporal dev server (pid {process.pid}) {how}", err=True)
    tail = _last_lines(log_file, 20)
    if tail:
        typer.echo(f"its last lines ({log_file}):", err=True)
        typer.echo("\n".join(f"  {line}" for line in tail), err=True)
    else:
        typer.echo(f"its log {log_file} is empty", err=True)
    raise typer.Exit(EXIT_UNREACHABLE)


def _last_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of a log, as text (bytes that are not UTF-8 replaced)."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 16_384))
            lines = log.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [visible(line) for line in lines[-count:]]


async def _serve(
    task_queue: str,
    *,
    demo: Any,
    tui_credentials: Credentials | None,
    log: Path,
    metrics: str | None = None,
    watch: DevServerWatch | None = None,
    web: WebConsole | None = None,
) -> None:
    """The worker (and the demo, when ``demo`` holds its credentials) in the background;
    the console in the foreground unless headless. Quitting the console, or Ctrl-C when
    headless, stops everything. ``watch`` restarts the dev server if it dies; ``web``
    serves the console to browsers as well (``up --web``)."""
    from simulator.demo import run_demo_alongside

    watching = asyncio.Event()
    if tui_credentials is None:
        if watch is not None:
            report = _server_report(lambda line, event, values: _say(line), log)
            watcher = asyncio.create_task(watch.run(watching, report))
        if web is not None:
            browsers = asyncio.create_task(web.run(watching, _say))
        worker = _run_worker_until_stopped(task_queue, metrics=metrics)
        try:
            await (run_demo_alongside(worker, credentials=demo, say=_say) if demo else worker)
        finally:
            watching.set()
            if watch is not None:
                await asyncio.gather(watcher, return_exceptions=True)
            if web is not None:
                await asyncio.gather(browsers, return_exceptions=True)
        return
    # While the console owns the terminal, progress lines go to a log file instead.
    with log.open("a", encoding="utf-8") as lines:

        def to_log(line: str) -> None:
            lines.write(line + "\n")
            lines.flush()

        stop = asyncio.Event()
        worker = _run_worker_until_stopped(task_queue, stop, to_log, metrics)
        background = asyncio.create_task(
            run_demo_alongside(worker, credentials=demo, say=to_log) if demo else worker
        )
        from cli.tui import make_app
        from tui.messages import Catalog

        language = os.environ.get("ONECHAIN_LANG") or "zh"
        app = make_app(tui_credentials, language)
        catalog = Catalog(language)
        app.confirm_quit = catalog.t("quit.confirm")
        if watch is not None:

            def tell_console(line: str, event: str, values: dict[str, Any]) -> None:
                to_log(line)
                severity = "information" if event == "server.restarted" else "error"
                app.notify(
                    app.catalog.t(event, log=log.parent / "temporal.log", **values),
                    severity=severity,
                    markup=False,
                    timeout=15,
                )

            watcher = asyncio.create_task(watch.run(watching, _server_report(tell_console, log)))
        if web is not None:
            browsers = asyncio.create_task(web.run(watching, to_log))
        try:
            with _closing_the_console_on_signals(app):
                await app.run_async()
        finally:
            stop.set()
            watching.set()
            await asyncio.gather(background, return_exceptions=True)
            if watch is not None:
                await asyncio.gather(watcher, return_exceptions=True)
            if web is not None:
                await asyncio.gather(browsers, return_exceptions=True)


def _server_report(
    say: Callable[[str, str, dict[str, Any]], None], log: Path
) -> Callable[[str, dict[str, Any]], None]:
    """Words for the dev-server watchdog's events (the terminal and up.log are English);
    ``say`` gets the line, the event and its values (the console words its own)."""
    temporal_log = log.parent / "temporal.log"

    def report(event: str, values: dict[str, Any]) -> None:
        line = {
            "server.died": f"onechain up: the Temporal dev server exited (code {values.get('code')}); "
            f"restarting it (its log: {temporal_log})",
            "server.restarted": "onechain up: the Temporal dev server is running again",
            "server.gone": f"onechain up: cannot restart the Temporal dev server: "
            f"{values.get('message')}; quit and run `onechain up` again",
        }[event]
        say(line, event, values)

    return report


async def _up(
    port: int,
    ui_port: int,
    headless: bool,
    demo: Any = None,
    tui_credentials: Credentials | None = None,
    ui_codec_endpoint: str | None = None,
    metrics: str | None = None,
    web: WebConsole | None = None,
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

    def start() -> Any:
        return start_dev_server(
            settings.temporal_db_file,
            port=port,
            ui_port=ui_port,
            headless=headless,
            log_file=settings.data_dir / "temporal.log",
            ui_codec_endpoint=ui_codec_endpoint,
        )

    try:
        process = start()
    except DevServerError as error:
        raise _fail(str(error), EXIT_UNREACHABLE) from None
    from runtime.watchdog import DevServerWatch

    watch = DevServerWatch(process, start, address)
    try:
        try:
            await wait_until_serving(address, process)
        except DevServerError as error:
            raise _fail(
                f"{error} (see {settings.data_dir / 'temporal.log'})", EXIT_UNREACHABLE
            ) from None
        os.environ["TEMPORAL_ADDRESS"] = address
        ui = "" if headless else f", web UI http://127.0.0.1:{ui_port}"
        if port != DEFAULT_PORT:  # other shells' commands look for localhost:7233
            typer.echo(f"onechain up: in other shells: export TEMPORAL_ADDRESS={address}", err=True)
        typer.echo(f"onechain up: Temporal {address}{ui}; data in {settings.data_dir}", err=True)
        if web is not None:
            typer.echo(f"onechain up: the console in a browser at {web.url}", err=True)
        await _serve(
            settings.task_queue,
            demo=demo,
            tui_credentials=tui_credentials,
            log=settings.data_dir / "up.log",
            metrics=metrics,
            watch=watch,
            web=web,
        )
    finally:
        stop_dev_server(watch.process)
        typer.echo("Temporal dev server stopped; run `onechain up` again to resume", err=True)


def _embedded_identities(
    *, demo: bool, tui: bool, role: str | None
) -> tuple[Any, Credentials | None]:
    """Keys for the embedded default, and who the demo and the console act as.

    Only ``--demo`` creates accounts (demo people with one-time passwords, shown here
    and kept in data/demo-accounts.txt, and a service account for the simulator); its
    console is signed in as the demo coordinator. Otherwise the console asks for a
    sign-in unless a valid session is saved.
    """
    from readmodel.accounts import list_users
    from readmodel.database import read_session, ready_engine
    from runtime.keys import keys_dir, load_signing_keys

    settings = get_settings()  # the keys are made by _prepare_embedded_data
    engine = ready_engine(settings.resolved_database_url)
    keys = load_signing_keys(keys_dir(settings))
    if demo:
        from simulator.demo_people import (
            demo_console_credentials,
            demo_simulator_credentials,
            ensure_demo_people,
        )

        accounts_file = settings.data_dir / "demo-accounts.txt"
        created = ensure_demo_people(engine, accounts_file)
        for user_id, password in created.items():
            _say(f"demo account {user_id}: one-time password {password}")
        _say(
            f"demo: people and their one-time passwords are in {accounts_file}; "
            "the console is signed in as demo-coordinator"
        )
        console = demo_console_credentials(engine, keys) if tui else None
        return demo_simulator_credentials(engine, keys), console
    if not tui:
        return None, None
    with read_session(engine) as session:
        if not list_users(session):
            raise _fail(
                "no one can sign in yet: run `onechain users bootstrap` to create the first "
                "administrator, or try `onechain up --demo`",
                EXIT_USAGE,
            )
    from cli.tui import console_credentials

    credentials = console_credentials(role, os.environ.get("ONECHAIN_LANG") or "zh")
    if credentials is None:
        raise typer.Exit(0)
    return None, credentials


def _start_embedded_signin() -> Any:
    """The embedded default's sign-in service (the keys are in the data folder), where
    ``$ONECHAIN_SIGNIN_URL`` says; other shells' ``login`` and the console use it."""
    from cli.signin_service import default_host_port, running_service_for_us, start_signin_service

    host, port = default_host_port()
    reused = running_service_for_us(host, port)
    if reused is not None:  # e.g. `onechain signin-service` already runs for this data
        _say(f"onechain up: sign-in service already on {reused.url}")
        return reused
    service = start_signin_service(host, port)
    os.environ["ONECHAIN_SIGNIN_URL"] = service.url
    get_settings.cache_clear()
    _say(f"onechain up: sign-in service on {service.url}")
    return service


def _web_console(port: int) -> WebConsole:
    from cli.web import WebConsole

    if not 0 < port < 65536:
        raise _fail(f"--web-port {port}: expected 1-65535", EXIT_USAGE)
    return WebConsole(port=port, language=os.environ.get("ONECHAIN_LANG") or "zh")


def up(
    port: Annotated[int, typer.Option(help="Temporal gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal web UI port.")] = 8233,
    headless: Annotated[
        bool,
        typer.Option(
            "--no-web-ui",
            "--headless",
            help="No Temporal web UI (not the same as --no-tui, which runs without the console).",
        ),
    ] = False,
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
    role: Annotated[
        str | None,
        typer.Option("--role", help="The console's role, if you hold several."),
    ] = None,
    ui_codec_endpoint: Annotated[str | None, typer.Option(help=_UI_CODEC_HELP)] = None,
    metrics: MetricsOption = None,
    web: Annotated[
        bool,
        typer.Option(
            "--web",
            help="Also serve the console to browsers on 127.0.0.1 (each signs in; "
            "`onechain web` serves other addresses).",
        ),
    ] = False,
    web_port: Annotated[int, typer.Option(help="HTTP port of --web.")] = 8000,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang", help="The console's language: zh (default) or en (default: $ONECHAIN_LANG)."
        ),
    ] = None,
) -> None:
    """Start the embedded default: the Temporal dev server, a worker and the console.

    Running it again resumes the same data (data/temporal.sqlite3, data/readmodel.sqlite3).
    With --demo: demo cases (DEMO-…) and the department simulator as well.
    Creates the data folder's keys if they are missing; data files are owner-only.
    """
    from tui.messages import LANGUAGES

    language = lang or os.environ.get("ONECHAIN_LANG") or "zh"
    if language not in LANGUAGES:
        raise _fail(f"--lang {language!r}: expected one of {', '.join(LANGUAGES)}", EXIT_USAGE)
    os.environ["ONECHAIN_LANG"] = language  # the console (and its refusals) read it
    first_run = _new_data_folder()
    _prepare_embedded_data()
    # The embedded default's SQLite file belongs to this machine: upgrade it in place,
    # and create it on the very first run only (later, a missing one was lost).
    # A configured database is shared; its creation and upgrade are an operator's step.
    require_read_model(
        upgrade_behind=get_settings().database_url is None,
        create=first_run,
        say=lambda line: _say(f"onechain up: {line}"),
    )
    if not no_tui:  # before any Temporal client: no log line may cross the console
        from runtime.console_logging import console_logs_to_file

        console_logs_to_file(get_settings().data_dir / "up.log")
    signin = _start_embedded_signin()
    try:
        _up_with_signin(
            demo=demo,
            no_tui=no_tui,
            role=role,
            port=port,
            ui_port=ui_port,
            headless=headless,
            ui_codec_endpoint=ui_codec_endpoint,
            metrics=metrics,
            web=web,
            web_port=web_port,
        )
    finally:
        signin.stop()


def _up_with_signin(
    *,
    demo: bool,
    no_tui: bool,
    role: str | None,
    port: int,
    ui_port: int,
    headless: bool,
    ui_codec_endpoint: str | None,
    metrics: str | None,
    web: bool,
    web_port: int,
) -> None:
    """The rest of ``up``, once its sign-in service answers."""
    demo_credentials, tui_credentials = _embedded_identities(demo=demo, tui=not no_tui, role=role)
    codec = ui_codec_endpoint or os.environ.get("ONECHAIN_UI_CODEC_ENDPOINT")
    if metrics:
        _check_metrics_address(metrics)
    # Closing the terminal (SIGHUP) must stop the dev server too: it runs in its own
    # session and would otherwise outlive us, holding the port and the data files.
    signal.signal(signal.SIGHUP, _hang_up)
    try:
        asyncio.run(
            _up(
                port,
                ui_port,
                headless,
                demo_credentials,
                tui_credentials,
                codec,
                metrics,
                _web_console(web_port) if web else None,
            )
        )
    except KeyboardInterrupt:  # hung up: everything was stopped on the way out
        raise typer.Exit(0) from None
    sys.stdout.flush()
