"""``onechain web``: the coordinators' console in a browser, served by ``textual-serve``.

For offices where people work in a browser. Each browser connection gets a process of
its own running ``onechain tui --no-session-file``: it shows the sign-in screen first
and keeps the session in its own memory, so every browser session is its own
signed-in person and nothing reads or writes the serving machine's session file. A
page opened by another web site (the server does not check where a connection comes
from) therefore meets the same sign-in, not somebody's session.

The sessions inherit this process's environment (``TEMPORAL_*``, ``ONECHAIN_*``); the
data folder and keys folder are handed on as absolute paths so a session finds the
same read model and keys whatever it resolves relative paths against. A session's
stderr (a crash's traceback) goes to ``data/web-sessions.log``, never over the pages.

Bound to 127.0.0.1 unless told otherwise; textual-serve speaks plain HTTP, so any
other address is said loudly (put a TLS proxy in front of it).

The page is our copy of textual-serve's (``cli/web_page/app_index.html``): the same,
but its font is served from this server instead of Google Fonts, since an office
intranet has no internet and nothing may be loaded from outside. On SIGTERM every
browser session is ended first (its websocket closed, its console told to quit, and
killed if it has not within a grace period), so the server and its sessions are gone
within seconds, not after aiohttp's minute-long shutdown wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import shlex
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.db import require_read_model
from cli.output import EXIT_USAGE, fail
from cli.tui import LANG_HELP, RefreshSeconds, StartScreen

DEFAULT_PORT = 8000
#: What the browser tab says.
TITLE = "一链办理 协调台"
#: Our copy of textual-serve's page template (local font, nothing from outside).
PAGE_TEMPLATES = Path(__file__).with_name("web_page")
#: How long a session's console gets to quit on shutdown before it is killed.
SESSION_GRACE_SECONDS = 2.0
#: The stand-in each browser session runs when consoles are forked from the template.
FORK_CLIENT = Path(__file__).with_name("web_fork_client.py")
#: How long the console template may take to import the console.
TEMPLATE_START_SECONDS = 120.0


class ServeError(Exception):
    """The console cannot be served (the address is taken or not this machine's)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (``localhost`` counts)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::", "[::]")


def exposure_warning(host: str, port: int) -> str | None:
    """What to tell the operator when the console is reachable from other machines."""
    if is_loopback(host):
        return None
    return (
        f"WARNING: the console is served on {host}:{port}, reachable from other machines. "
        "textual-serve speaks plain HTTP: passwords and every case on screen cross the "
        "network unencrypted. Put a TLS proxy in front of it, or bind 127.0.0.1 (the default)."
    )


def public_url_for(host: str, port: int, public_url: str | None) -> str:
    """The address browsers reach the server at (its pages name their websocket with
    it): as given, else the host itself, else this machine's name for a wildcard bind."""
    if public_url:
        return public_url.rstrip("/")
    name = socket.gethostname() if _is_wildcard(host) else host
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return f"http://{name}:{port}"


def session_environment() -> dict[str, str]:
    """Settings a browser session must resolve the same way as this process: the data
    and keys folders, absolute (everything else is inherited as it is)."""
    from runtime.settings import get_settings

    settings = get_settings()
    pinned = {"ONECHAIN_DATA_DIR": str(settings.data_dir.resolve())}
    if settings.keys_dir is not None:
        pinned["ONECHAIN_KEYS_DIR"] = str(settings.keys_dir.resolve())
    return pinned


def _onechain_program() -> list[str]:
    """This installation's ``onechain``: the script beside this Python, else the module."""
    script = Path(sys.executable).with_name("onechain")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-c", "from cli.app import main; main()"]


def session_command(language: str, *, start: str, refresh: float) -> str:
    """The shell command textual-serve runs for each browser connection."""
    from runtime.settings import get_settings

    words = [
        "env",
        *(f"{key}={value}" for key, value in session_environment().items()),
        *_onechain_program(),
        "tui",
        "--no-session-file",
        "--lang",
        language,
        "--start",
        start,
        "--refresh",
        str(refresh),
    ]
    log = get_settings().data_dir.resolve() / "web-sessions.log"
    return f"exec {shlex.join(words)} 2>>{shlex.quote(str(log))}"


def forked_session_command(socket_path: Path, language: str, *, start: str, refresh: float) -> str:
    """The command textual-serve runs for each browser connection when the console
    template runs: a stand-in of a few MiB (``python -S``) that has the template fork
    the console (``cli.web_fork``)."""
    from runtime.settings import get_settings

    words = [
        "env",
        *(f"{key}={value}" for key, value in session_environment().items()),
        sys.executable,
        "-S",
        "-E",
        str(FORK_CLIENT),
        str(socket_path),
        language,
        start,
        str(refresh),
    ]
    log = get_settings().data_dir.resolve() / "web-sessions.log"
    return f"exec {shlex.join(words)} 2>>{shlex.quote(str(log))}"


@dataclass
class ConsoleTemplate:
    """The running console template (``cli.web_fork``): its process, the socket it
    forks consoles on, and the pipe whose closing tells it ``onechain web`` is gone."""

    process: asyncio.subprocess.Process
    socket_path: Path
    lifeline: int

    @classmethod
    async def start(cls) -> ConsoleTemplate:
        import tempfile

        from cli.web_fork import TEXTUAL_ENVIRONMENT
        from runtime.settings import get_settings

        folder = Path(tempfile.mkdtemp(prefix="onechain-web-"))  # 0700: ours only
        socket_path = folder / "template.sock"
        read_end, write_end = os.pipe()
        log = (get_settings().data_dir.resolve() / "web-sessions.log").open("ab")
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cli.web_fork",
                str(socket_path),
                str(read_end),
                pass_fds=(read_end,),
                env={
                    **os.environ,
                    **TEXTUAL_ENVIRONMENT,
                    **session_environment(),
                    # Fewer malloc arenas: each console's threads (Temporal's client,
                    # the read model's) otherwise keep arenas of their own resident.
                    "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"),
                },
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        finally:
            os.close(read_end)
            log.close()
        template = cls(process, socket_path, write_end)
        assert process.stdout is not None
        try:
            ready = await asyncio.wait_for(process.stdout.readline(), TEMPLATE_START_SECONDS)
        except TimeoutError:
            ready = b""
        if ready.strip() != b"ready":
            await template.stop()
            raise ServeError("the console template did not start (see data/web-sessions.log)")
        return template

    async def stop(self) -> None:
        """End the template and every console it forked (they are its children)."""
        with contextlib.suppress(OSError):
            os.close(self.lifeline)
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), SESSION_GRACE_SECONDS + 1.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        with contextlib.suppress(OSError):
            self.socket_path.unlink()
        with contextlib.suppress(OSError):
            self.socket_path.parent.rmdir()


async def serve_console(
    host: str,
    port: int,
    command: str,
    *,
    public_url: str,
    stop: asyncio.Event,
    say: Callable[[str], None],
    fork: tuple[str, str, float] | None = None,
) -> None:
    """Serve ``command`` per browser connection at ``host:port`` until ``stop`` is set,
    on the running event loop (so ``onechain up --web`` can serve beside its console).

    With ``fork`` (language, first screen, refresh) the consoles are forked from a
    warmed template instead (``cli.web_fork``); where it cannot start, ``command``
    runs per browser as before, and that is said."""

    template: ConsoleTemplate | None = None
    if fork is not None and os.environ.get("ONECHAIN_WEB_FORK", "1") != "0":
        try:
            template = await ConsoleTemplate.start()
        except (ServeError, OSError) as error:
            say(f"onechain web: {error}; each browser session starts its own console")
        else:
            language, start, refresh = fork
            command = forked_session_command(
                template.socket_path, language, start=start, refresh=refresh
            )
    try:
        await _serve(host, port, command, public_url=public_url, stop=stop, say=say)
    finally:
        if template is not None:
            await template.stop()


async def _serve(
    host: str,
    port: int,
    command: str,
    *,
    public_url: str,
    stop: asyncio.Event,
    say: Callable[[str], None],
) -> None:
    from aiohttp import web

    server = _console_server(command, host=host, port=port, public_url=public_url)
    # textual-serve's own ``serve()`` owns the event loop and prints a banner;
    # its aiohttp application is served here on ours instead.
    runner = web.AppRunner(
        await server._make_app(), handle_signals=False, access_log=None, shutdown_timeout=1.0
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host=host, port=port)
        try:
            await site.start()
        except OSError as error:
            raise ServeError(f"cannot serve the console on {host}:{port}: {error}") from None
        say(f"onechain web: the console at {server.public_url}/ (each browser signs in)")
        await stop.wait()
    finally:
        await server.end_sessions(SESSION_GRACE_SECONDS)
        await runner.cleanup()


def _console_server(command: str, *, host: str, port: int, public_url: str) -> Any:
    """textual-serve's server with our page, no banner, and a register of its browser
    sessions so that stopping ends them (textual-serve keeps none)."""
    from aiohttp import web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server, to_int

    class ConsoleServer(Server):
        def __init__(self) -> None:
            super().__init__(
                command,
                host=host,
                port=port,
                title=TITLE,
                public_url=public_url,
                templates_path=PAGE_TEMPLATES.resolve(),
            )
            self.sessions: dict[web.WebSocketResponse, AppService | None] = {}

        async def on_startup(self, app: web.Application) -> None:
            """No banner: the address is said once it is actually served."""

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            """textual-serve's handler (1.1.3), with the session registered while it runs."""
            websocket = web.WebSocketResponse(heartbeat=15)
            width = to_int(request.query.get("width", "80"), 80)
            height = to_int(request.query.get("height", "24"), 24)
            service: AppService | None = None
            self.sessions[websocket] = None
            try:
                await websocket.prepare(request)
                service = AppService(
                    self.command,
                    write_bytes=websocket.send_bytes,
                    write_str=websocket.send_str,
                    close=websocket.close,
                    download_manager=self.download_manager,
                    debug=self.debug,
                )
                self.sessions[websocket] = service
                await service.start(width, height)
                await self._process_messages(websocket, service)
            except asyncio.CancelledError:
                await websocket.close()
            except Exception as error:  # as textual-serve: one session's failure is logged
                import logging

                logging.getLogger("onechain.web").exception(error)
            finally:
                self.sessions.pop(websocket, None)
                if service is not None:
                    await _end_session(service, SESSION_GRACE_SECONDS)
            return websocket

        async def end_sessions(self, grace: float) -> None:
            """Close every browser's websocket and end its console: told to quit,
            killed if it has not within ``grace`` seconds."""
            sessions = list(self.sessions.items())
            await asyncio.gather(
                *(_close_quietly(websocket) for websocket, _ in sessions),
                *(_end_session(service, grace) for _, service in sessions if service is not None),
            )

    return ConsoleServer()


async def _close_quietly(websocket: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(), 1.0)


async def _end_session(service: Any, grace: float) -> None:
    """Ask a session's console to quit; kill its process if it has not in ``grace``."""
    process = getattr(service, "_process", None)
    with contextlib.suppress(Exception):  # a stuck or broken session is killed below
        await asyncio.wait_for(service.stop(), grace)
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(process.wait(), grace)


@dataclass(frozen=True)
class WebConsole:
    """The browser console served beside ``onechain up`` (``up --web``): loopback only;
    ``onechain web --host`` is the way to serve other machines."""

    port: int
    language: str
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return public_url_for(self.host, self.port, None) + "/"

    async def run(self, stop: asyncio.Event, say: Callable[[str], None]) -> None:
        """Serve until ``stop``; a port already taken is said, and the rest runs on."""
        try:
            await serve_console(
                self.host,
                self.port,
                session_command(self.language, start="overview", refresh=5.0),
                public_url=public_url_for(self.host, self.port, None),
                stop=stop,
                say=say,
                fork=(self.language, "overview", 5.0),
            )
        except ServeError as error:
            say(f"onechain up: {error}; the browser console is not served")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def _say(line: str) -> None:
    typer.echo(line, err=True)


def web(
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback is warned about.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = DEFAULT_PORT,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Address browsers use to reach this server, e.g. https://console.example.gov "
            "behind a proxy (default: http://HOST:PORT)."
        ),
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help=LANG_HELP)] = None,
    start: StartScreen = "overview",
    refresh: RefreshSeconds = 5.0,
) -> None:
    """Serve the coordinators' console in a browser; each browser session signs in itself.

    Needs a running system (`onechain up`, or a server and worker) like `onechain tui`.
    """
    from tui.messages import LANGUAGES

    language = lang or os.environ.get("ONECHAIN_LANG") or "zh"
    if language not in LANGUAGES:
        fail(f"--lang {language!r}: expected one of {', '.join(LANGUAGES)}", EXIT_USAGE)
    if start not in ("overview", "cases", "departments", "supervision"):
        fail(f"--start {start!r}: expected overview, cases, departments or supervision", EXIT_USAGE)
    if not 0 < port < 65536:
        fail(f"--port {port}: expected 1-65535", EXIT_USAGE)
    require_read_model(say=_say)
    warning = exposure_warning(host, port)
    if warning:
        typer.secho(warning, err=True, fg="red", bold=True)
    command = session_command(language, start=start, refresh=refresh)

    async def main() -> None:
        await serve_console(
            host,
            port,
            command,
            public_url=public_url_for(host, port, public_url),
            stop=_stop_on_signals(),
            say=_say,
            fork=(language, start, refresh),
        )

    try:
        asyncio.run(main())
    except ServeError as error:
        fail(str(error), EXIT_USAGE)
    _say("onechain web: stopped")
