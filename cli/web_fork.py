"""The warmed console template of ``onechain web``: one process that has imported the
console once and forks a console per browser session.

Why: each browser session used to be a fresh ``onechain tui`` process. Twenty people
opening the page together meant twenty interpreters importing Textual, SQLAlchemy,
Temporal's client and every chain at once on the same cores (49-63 s to the sign-in
form) and ~165 MiB each, none of it shared (issue 26). A forked console starts with
everything imported and shares those pages with the template copy-on-write
(``gc.freeze`` keeps the collector from touching them), so it is on screen at once
and costs only what it changes.

Protocol (a Unix socket in a private folder): the session's stand-in
(``cli/web_fork_client.py``) sends one JSON line ``{"env", "options"}`` with its
stdin, stdout and stderr attached; the template answers ``{"pid"}`` once forked and
``{"code"}`` when that console exits. A stand-in that goes away (killed) takes its
console with it. The template ends, killing what is left, on SIGTERM or when the
``onechain web`` that started it goes away (its pipe closes); nothing is created
before the fork that a console could share by mistake (no database connection, no
Temporal client, no thread).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

#: What textual-serve puts in each session's environment that Textual reads on import:
#: set for the template before it imports Textual.
TEXTUAL_ENVIRONMENT = {
    "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver",
    "TEXTUAL_FPS": "60",
    "TEXTUAL_COLOR_SYSTEM": "truecolor",
    "TERM_PROGRAM": "textual",
}
#: Seconds a console gets to quit when the template stops, before it is killed.
STOP_GRACE = 2.0


def warm() -> None:
    """Import what every console needs (not run: nothing that opens connections)."""
    import sqlalchemy.dialects.sqlite
    import textual.drivers.web_driver  # noqa: F401

    import chains  # noqa: F401  (registers the chains the console names)
    import cli.tui  # noqa: F401
    import client.facade  # noqa: F401
    import readmodel.database  # noqa: F401
    import runtime.connect  # noqa: F401
    import trust.signin_client  # noqa: F401
    import tui.app
    import tui.login
    import tui.sign_in_first  # noqa: F401

    for name in ("case", "cases", "overview", "departments", "supervision", "action_form"):
        with contextlib.suppress(ImportError):
            __import__(f"tui.screens.{name}")
    with contextlib.suppress(ImportError):
        import sqlalchemy.dialects.postgresql  # noqa: F401


def warm_read_model() -> None:
    """Check the read model's schema once (alembic and the migrations: ~25 MiB and a
    second per console otherwise) and compile the list's statements, then close every
    connection: the consoles reuse the checked engine with connections of their own."""
    from readmodel.database import ready_engine
    from runtime.settings import get_settings
    from tui.data import CaseFilter, list_page

    engine = ready_engine(get_settings().resolved_database_url)
    try:
        list_page(engine, CaseFilter(), 0, 100)
    finally:
        engine.dispose()


def run_console(options: list[str]) -> int:
    """In the forked child: what ``onechain tui --no-session-file`` runs."""
    from cli.tui import make_sign_in_first_app
    from runtime.console_logging import console_logs_to_file
    from runtime.settings import get_settings

    language, start, refresh = options
    get_settings.cache_clear()  # this session's environment, not the template's
    console_logs_to_file(get_settings().data_dir / "console.log")
    app = make_sign_in_first_app(language, start=start, refresh=float(refresh))
    app.run()
    return int(app.return_code or 0)


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
    while data and not data.endswith(b"\n"):
        more = conn.recv(1 << 20)
        if not more:
            break
        data += more
    return json.loads(data), list(fds)


def _child(request: dict[str, Any], fds: list[int], keep_closed: list[int]) -> None:
    """The forked console: its own signals, the session's pipes and environment."""
    code = 1
    try:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        for fd in keep_closed:
            with contextlib.suppress(OSError):
                os.close(fd)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        code = run_console([str(o) for o in request["options"]])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve_template(path: Path, parent_fd: int) -> None:
    """Fork consoles on request at ``path`` until SIGTERM or ``parent_fd`` closes."""
    warm()
    try:
        warm_read_model()
    except Exception as error:  # each console checks it again and says what is wrong
        sys.stderr.write(f"onechain web: console template: read model not warmed: {error}\n")
    gc.collect()
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener.bind(str(path))
    path.chmod(0o600)
    listener.listen(128)
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(parent_fd, selectors.EVENT_READ, "parent")
    children: dict[int, socket.socket] = {}
    sys.stdout.write("ready\n")
    sys.stdout.flush()

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = children.pop(pid, None)
            if conn is None:
                continue
            with contextlib.suppress(Exception):
                selector.unregister(conn)
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode())
                conn.sendall(b"\n")
            conn.close()

    while not stopping:
        for key, _mask in selector.select(0.2):
            if key.data == "parent":
                if not os.read(parent_fd, 1024):
                    stopping = True
            elif key.data == "accept":
                conn, _ = listener.accept()
                try:
                    request, fds = _receive(conn)
                except (OSError, ValueError):
                    conn.close()
                    continue
                sys.stdout.flush()
                sys.stderr.flush()
                keep_closed = [listener.fileno(), parent_fd, conn.fileno()] + [
                    c.fileno() for c in children.values()
                ]
                pid = os.fork()
                if pid == 0:
                    _child(request, fds, keep_closed)
                for fd in fds:
                    os.close(fd)
                children[pid] = conn
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                selector.register(conn, selectors.EVENT_READ, pid)
            else:  # the stand-in went away while its console runs: end the console
                with contextlib.suppress(OSError):
                    if not key.fileobj.recv(64):  # type: ignore[union-attr]
                        selector.unregister(key.fileobj)
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(key.data, signal.SIGKILL)
        reap()
    for pid in list(children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while children and time.monotonic() < deadline:
        time.sleep(0.05)
        reap()
    for pid in list(children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.05)
    reap()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def main() -> None:
    """``python -m cli.web_fork SOCKET PARENT_FD`` (started by ``onechain web``)."""
    serve_template(Path(sys.argv[1]), int(sys.argv[2]))


if __name__ == "__main__":
    main()
