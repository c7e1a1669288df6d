"""The console in a browser (``onechain web``), and the console that signs in on its own
first screen that each browser session runs.

The browser test is the whole way a person goes: a real ``onechain web`` process, a
real headless Chromium (Debian's ``chromium``; nothing is downloaded, requests to
anywhere but the server are refused), typing into the page's terminal, and the urge
read back from the case's history with the person who signed in as its actor. Where
Chromium or Playwright is missing it is skipped, saying which.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from cli.tui import make_sign_in_first_app
from cli.web import (
    ServeError,
    exposure_warning,
    is_loopback,
    public_url_for,
    serve_console,
    session_command,
)
from domain.roles import Role
from readmodel.database import ready_engine
from runtime.keys import keys_dir, load_signing_keys
from runtime.settings import get_settings
from tests.harness import CaseDriver, fresh_applicant, sign_in_cli
from trust import accounts
from trust.action_proof import SessionKey
from tui.data import CaseFilter, list_page
from tui.messages import Catalog
from tui.permissions import KEYS, Act
from tui.screens.cases import CasesScreen
from tui.sign_in_first import SignInFirstApp
from workflows import registry
from workflows.form_samples import sample_values

CHROMIUM = os.environ.get("ONECHAIN_TEST_CHROMIUM") or shutil.which("chromium") or ""
PASSWORD = "web-console-secret-2026"


# ------------------------------------------------------------------------ helpers
def coordinator_with_password(prefix: str) -> str:
    """A coordinator who has already replaced their one-time password; returns the id."""
    engine = ready_engine(get_settings().resolved_database_url)
    user_id = f"{prefix}-{uuid.uuid4().hex[:6]}"
    one_time = accounts.add_user(
        engine, user_id=user_id, name="网页协调员", grants=["coordinator"], by="test"
    )
    accounts.login(
        engine,
        load_signing_keys(keys_dir(get_settings())),
        user_id=user_id,
        password=one_time,
        lifetime=timedelta(hours=1),
        session_key=SessionKey.generate().public_text,
        new_password=PASSWORD,
    )
    return user_id


async def start_one_case(driver: CaseDriver) -> str:
    """A running case with open tasks, of the first registered chain (any would do)."""
    import chains  # noqa: F401  (registers the chains)

    chain = registry.all_chains()[0]
    kind = "person" if chain.applicant_kind == "person" else "organisation"
    case_no = f"WEB{uuid.uuid4().hex[:8].upper()}"
    await driver.start(
        chain.code, sample_values(chain.form), case_no=case_no, applicant=fresh_applicant(kind)
    )
    await driver.wait_for_tasks(case_no)
    engine = ready_engine(get_settings().resolved_database_url)
    for _ in range(300):
        if list_page(engine, CaseFilter(search=case_no)).total == 1:
            return case_no
        await asyncio.sleep(0.1)
    raise AssertionError(f"{case_no} never reached the read model")


async def eventually(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (generous: a loaded CI machine)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check() if asyncio.iscoroutinefunction(check) else check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.fixture
def decoy_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A valid saved session of somebody else, where the session file is looked for:
    the web console must neither use it nor overwrite it."""
    path = tmp_path / "session.json"
    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(path))
    sign_in_cli(path, "supervisor", user_id=f"decoy-{uuid.uuid4().hex[:6]}", name="别人")
    yield path


# --------------------------------------------------------- the sign-in-first console
async def test_sign_in_first_console_offers_nothing_until_signed_in(
    driver: CaseDriver, decoy_session: Path
) -> None:
    case_no = await start_one_case(driver)
    user_id = coordinator_with_password("first")
    saved = decoy_session.read_bytes()
    app = make_sign_in_first_app("zh", start="cases", refresh=0)
    assert isinstance(app, SignInFirstApp)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        # Before signing in, the console's own keys do nothing and nobody acts.
        app.screen.query_one("#user", Input).blur()
        await pilot.press("2", "colon", "question_mark")
        await pilot.pause()
        assert app.screen.query("#user") and not app.signed_in
        assert not isinstance(app.screen, CasesScreen)
        with pytest.raises(RuntimeError):
            _ = app.actor
        app.screen.query_one("#user", Input).focus()
        await pilot.press(*user_id, "tab", *PASSWORD, "enter")
        await eventually(lambda: isinstance(app.screen, CasesScreen), "the case list")
        assert app.actor.user_id == user_id and app.actor.role is Role.COORDINATOR
        screen = app.screen
        assert isinstance(screen, CasesScreen)
        await pilot.press("slash", *case_no, "enter")
        await eventually(lambda: screen.page is not None and screen.page.total == 1, "search")
    assert decoy_session.read_bytes() == saved


def test_non_loopback_addresses_are_warned_about() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert exposure_warning("127.0.0.1", 8000) is None
    for host in ("0.0.0.0", "192.0.2.7", "console.example.gov"):
        warning = exposure_warning(host, 8000)
        assert warning is not None and "plain HTTP" in warning and host in warning
    assert public_url_for("0.0.0.0", 8000, None) == f"http://{socket.gethostname()}:8000"
    assert public_url_for("::1", 81, None) == "http://[::1]:81"
    assert public_url_for("0.0.0.0", 8000, "https://c.example/") == "https://c.example"


def test_each_browser_session_runs_the_console_without_a_session_file() -> None:
    command = session_command("zh", start="cases", refresh=5.0)
    assert " tui --no-session-file " in command
    assert f"ONECHAIN_DATA_DIR={get_settings().data_dir.resolve()}" in command
    assert command.startswith("exec ") and "web-sessions.log" in command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_taken_port_is_said_not_served() -> None:
    said: list[str] = []
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = int(holder.getsockname()[1])
        with pytest.raises(ServeError, match=f"cannot serve the console on 127.0.0.1:{port}"):
            await serve_console(
                "127.0.0.1",
                port,
                "true",
                public_url=f"http://127.0.0.1:{port}",
                stop=asyncio.Event(),
                say=said.append,
            )
    assert said == []  # nothing claims to serve


# ------------------------------------------------------------------ the real browser


@contextlib.asynccontextmanager
async def web_server(
    driver: CaseDriver,
    log: Path,
    extra_env: dict[str, str],
    started: list[subprocess.Popen[bytes]] | None = None,
    *,
    port: int | None = None,
    public_url: str | None = None,
) -> AsyncIterator[str]:
    """``onechain web`` as its own process (and process group), against the test's
    Temporal and task queue; yields its URL (and appends the process to ``started``);
    stops it and its sessions afterwards."""
    port = port or _free_port()
    environment = {
        **os.environ,
        **extra_env,
        "TEMPORAL_ADDRESS": driver.client.service_client.config.target_host,
        "ONECHAIN_TASK_QUEUE": driver.desk.task_queue,
    }
    onechain = str(Path(sys.executable).with_name("onechain"))
    command = [onechain, "web", "--port", str(port), "--start", "cases", "--refresh", "2"]
    if public_url:
        command += ["--public-url", public_url]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if started is not None:
        started.append(process)
    try:

        def serving() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"onechain web exited: {log.read_text(errors='replace')}")
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        await eventually(serving, "onechain web to listen")
        yield f"http://127.0.0.1:{port}/"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait, 10)


#: Keeps every xterm.js Terminal the page makes (textual-serve does not expose it), so
#: the test reads what the page shows from the terminal's own buffer.
CAPTURE_TERMINALS = """
window.__terminals = [];
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal", {
      value, writable: true, configurable: true, enumerable: true,
    });
    if (value && value.buffer) window.__terminals.push(value);
  },
});
"""
READ_SCREEN = """
() => {
  const term = window.__terminals.find((t) => t.buffer && t.buffer.active);
  if (!term) return "";
  const buffer = term.buffer.active, lines = [];
  for (let row = 0; row < term.rows; row++) {
    const line = buffer.getLine(buffer.viewportY + row);
    lines.push(line ? line.translateToString(true) : "");
  }
  return lines.join("\\n");
}
"""


def _playwright() -> Any:
    if not CHROMIUM or not Path(CHROMIUM).exists():
        pytest.skip(
            "no Chromium: install Debian's `chromium` package (apt-get install chromium; "
            ".ci/run does it) or set ONECHAIN_TEST_CHROMIUM to a chromium binary"
        )
    try:
        from playwright.async_api import async_playwright
    except ImportError as error:
        pytest.skip(f"playwright is not installed (test extras): {error}")
    return async_playwright


async def test_sign_in_and_urge_in_a_real_browser(
    driver: CaseDriver, decoy_session: Path, tmp_path: Path
) -> None:
    async_playwright = _playwright()
    case_no = await start_one_case(driver)
    user_id = coordinator_with_password("web")
    saved = decoy_session.read_bytes()
    zh = Catalog("zh")
    log = tmp_path / "web.log"
    async with (
        web_server(driver, log, {"ONECHAIN_SESSION_FILE": str(decoy_session)}) as url,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1600, "height": 1000})

            async def local_only(route: Any) -> None:
                if route.request.url.startswith(url[:-1]) or route.request.url.startswith(
                    url.replace("http", "ws")[:-1]
                ):
                    await route.continue_()
                else:
                    await route.abort()  # e.g. the page's web font: nothing leaves the machine

            await page.route("**/*", local_only)
            await page.add_init_script(CAPTURE_TERMINALS)

            async def screen() -> str:
                return str(await page.evaluate(READ_SCREEN))

            async def shows(text: str) -> str:
                async def check() -> bool:
                    return text in await screen()

                try:
                    await eventually(check, repr(text), timeout=90)
                except AssertionError:
                    raise AssertionError(
                        f"{text!r} never on the page; it shows:\n{await screen()}\n"
                        f"onechain web said:\n{log.read_text(errors='replace')}"
                    ) from None
                return await screen()

            opened = time.monotonic()
            await page.goto(url, wait_until="domcontentloaded")
            await shows(zh.t("login.password"))
            sign_in_shown = time.monotonic()
            # Each step waits for the page to show the last one: keys typed ahead of the
            # terminal's focus event would land in whichever field it gives focus back to.
            await page.focus("textarea.xterm-helper-textarea")
            await page.keyboard.type(user_id)
            await shows(user_id)
            await page.keyboard.press("Tab")
            await page.keyboard.type(PASSWORD)
            await shows("•" * len(PASSWORD))
            submitted = time.monotonic()
            await page.keyboard.press("Enter")
            await shows(zh.t("cases.col.case_no"))
            listed = time.monotonic()
            await page.keyboard.press("/")
            await shows(zh.t("cases.search"))
            await page.keyboard.type(case_no)
            await page.keyboard.press("Enter")
            await shows(zh.t("cases.range", first=1, last=1, total=1))
            await shows(case_no)
            print(
                f"\nweb console: page open → sign-in screen {sign_in_shown - opened:.2f} s; "
                f"sign-in submitted → case list {listed - submitted:.2f} s; "
                f"page open → case list {listed - opened:.2f} s (incl. typing)"
            )
            # Urge the case under the cursor, with the console's own key for it.
            await page.keyboard.press(KEYS[Act.URGE])
            await shows(zh.t("form.title", action=zh.t(f"act.{Act.URGE.value}"), case_no=case_no))
            await page.keyboard.press("Control+s")

            async def urged() -> list[Any]:
                state = await driver.state(case_no)
                return [e for e in state.events if e.kind == "urged"]

            (event,) = await eventually(urged, "the urge in the case's history", timeout=90)
            assert event.actor.user_id == user_id
            assert event.actor.role is Role.COORDINATOR
        finally:
            await browser.close()
    assert decoy_session.read_bytes() == saved  # never read over, never written


def _children(parent: int) -> dict[int, str]:
    """The processes whose parent is ``parent``, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found[int(entry.name)] = command
    return found


def _session_pids(server_pid: int) -> set[int]:
    """One process per browser session: the web server's children but the console
    template (each session's stand-in, or its console where nothing is forked)."""
    return {pid for pid, command in _children(server_pid).items() if "cli.web_fork" not in command}


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid``: sessions, the template and the consoles it forked."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_the_page_loads_nothing_from_outside_q_asks_and_sigterm_ends_every_session(
    driver: CaseDriver, tmp_path: Path
) -> None:
    """Three browsers on one ``onechain web``: every request either page makes goes to
    the server itself (its font included: textual-serve's page asked Google Fonts);
    ``q`` asks first, Esc keeps the session, Enter ends that browser's session only
    (the others still type); SIGTERM to the server with the two others connected
    ends it and every session process within 5 s."""
    async_playwright = _playwright()
    user_id = coordinator_with_password("quit")
    zh = Catalog("zh")
    log = tmp_path / "web.log"
    started: list[subprocess.Popen[bytes]] = []
    async with web_server(driver, log, {}, started) as url, async_playwright() as playwright:
        server = started[0]
        origin = url.rstrip("/")
        requested: list[str] = []
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            pages = []
            for _ in range(3):
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                page.on("request", lambda request: requested.append(request.url))

                async def local_only(route: Any) -> None:
                    local = route.request.url.startswith((origin, origin.replace("http", "ws")))
                    await (route.continue_() if local else route.abort())

                await page.route("**/*", local_only)
                await page.add_init_script(CAPTURE_TERMINALS)
                pages.append(page)
            first, second, _third = pages

            async def shows(page: Any, text: str) -> None:
                async def check() -> bool:
                    return text in str(await page.evaluate(READ_SCREEN))

                await eventually(check, repr(text), timeout=90)

            for page in pages:
                await page.goto(url, wait_until="domcontentloaded")
                await shows(page, zh.t("login.password"))
            await eventually(lambda: len(_session_pids(server.pid)) == 3, "three sessions")
            await first.focus("textarea.xterm-helper-textarea")
            await first.keyboard.type(user_id)
            await shows(first, user_id)
            # Typed straight on after Tab: the focus moves in key order (issue 26).
            await first.keyboard.press("Tab")
            await first.keyboard.type(PASSWORD)
            await shows(first, "•" * len(PASSWORD))
            await first.keyboard.press("Enter")
            await shows(first, zh.t("cases.col.case_no"))

            question = zh.t("quit.confirm_web")[:10]
            await first.keyboard.press("q")
            await shows(first, question)
            await first.keyboard.press("Escape")  # not now: the session stays

            async def asked() -> bool:
                return question in str(await first.evaluate(READ_SCREEN))

            async def answered() -> bool:
                return not await asked()

            await eventually(answered, "the question to close")
            assert len(_session_pids(server.pid)) == 3
            await first.keyboard.press("q")
            await shows(first, question)
            await first.keyboard.press("Enter")

            async def closed() -> bool:
                return bool(await first.evaluate("document.body.classList.contains('-closed')"))

            await eventually(closed, "the first page to say its session ended", timeout=30)
            await eventually(lambda: len(_session_pids(server.pid)) == 2, "two sessions left")
            await second.focus("textarea.xterm-helper-textarea")
            await second.keyboard.type("still-here")
            await shows(second, "still-here")

            assert requested and all(
                u.startswith((origin, origin.replace("http", "ws"))) for u in requested
            ), [u for u in requested if not u.startswith(origin)]
            assert "fonts.googleapis" not in await second.content()

            # SIGTERM with two browsers connected: the server and its sessions stop in 5 s.
            assert len(_session_pids(server.pid)) == 2
            sessions = _descendants(server.pid)  # the consoles and the template too
            signalled = time.monotonic()
            server.send_signal(signal.SIGTERM)
            await eventually(
                lambda: server.poll() is not None and not any(_alive(p) for p in sessions),
                "onechain web and its sessions to stop",
                timeout=30,
            )
            took = time.monotonic() - signalled
            print(
                f"\nonechain web: SIGTERM with two browsers connected → all stopped in {took:.2f} s"
            )
            assert took <= 5.0, took
            assert server.returncode == 0, log.read_text(errors="replace")
        finally:
            await browser.close()


async def test_sign_in_through_the_tls_proxy_typing_straight_on(
    driver: CaseDriver, tmp_path: Path
) -> None:
    """The console behind ``deploy/nginx/onechain-web.conf`` (Debian's nginx, a throwaway
    CA's certificate): the page and its websocket come over https/wss only, and a
    person who types the user id, Tab and the password without waiting for the screen
    signs in (keys never cross fields) and sees the case list."""
    async_playwright = _playwright()
    from tests.mtls_proxy import nginx_binary
    from tests.web_proxy import start_web_proxy, stop_web_proxy

    nginx = nginx_binary()
    if nginx is None:
        pytest.skip("no nginx: install Debian's nginx-light (.ci/run does it)")
    case_no = await start_one_case(driver)
    user_id = coordinator_with_password("tls")
    zh = Catalog("zh")
    log = tmp_path / "web.log"
    upstream, listen = _free_port(), _free_port()
    public = f"https://127.0.0.1:{listen}"
    proxy = await asyncio.to_thread(start_web_proxy, nginx, listen, upstream)
    try:
        async with (
            web_server(driver, log, {}, port=upstream, public_url=public),
            async_playwright() as playwright,
        ):
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                # The proxy's certificate is from the test's own CA, which this browser
                # does not know; an office's browsers trust the office's CA.
                context = await browser.new_context(
                    ignore_https_errors=True, viewport={"width": 1400, "height": 900}
                )
                page = await context.new_page()
                requested: list[str] = []
                page.on("request", lambda request: requested.append(request.url))
                sockets: list[str] = []
                page.on("websocket", lambda socket_: sockets.append(socket_.url))
                await page.add_init_script(CAPTURE_TERMINALS)

                async def shows(text: str) -> None:
                    async def check() -> bool:
                        return text in str(await page.evaluate(READ_SCREEN))

                    try:
                        await eventually(check, repr(text), timeout=90)
                    except AssertionError:
                        raise AssertionError(
                            f"{text!r} never on the page; it shows:\n"
                            f"{await page.evaluate(READ_SCREEN)}\nnginx: {proxy.error_log()}\n"
                            f"onechain web said:\n{log.read_text(errors='replace')}"
                        ) from None

                await page.goto(proxy.url, wait_until="domcontentloaded")
                await shows(zh.t("login.password"))
                await page.focus("textarea.xterm-helper-textarea")
                await page.keyboard.type(user_id)
                await page.keyboard.press("Tab")
                await page.keyboard.type(PASSWORD)
                await page.keyboard.press("Enter")
                await shows(zh.t("cases.col.case_no"))
                await page.keyboard.press("/")
                await shows(zh.t("cases.search"))
                await page.keyboard.type(case_no)
                await page.keyboard.press("Enter")
                await shows(case_no)
                assert sockets and all(u.startswith(f"wss://127.0.0.1:{listen}/") for u in sockets)
                assert requested and all(u.startswith(public) for u in requested), requested
            finally:
                await browser.close()
    finally:
        await asyncio.to_thread(stop_web_proxy, proxy)


async def test_a_killed_session_takes_its_forked_console_with_it(driver: CaseDriver) -> None:
    """The console template forks a console per browser; when a session's stand-in is
    killed (as ``onechain web`` kills a session that does not quit), its console goes
    too, and stopping the template ends every console it forked."""
    from cli.web import ConsoleTemplate, forked_session_command

    template = await ConsoleTemplate.start()
    try:
        command = forked_session_command(template.socket_path, "zh", start="cases", refresh=0)
        sessions = []
        for _ in range(2):
            session = await asyncio.create_subprocess_shell(
                command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"},
            )
            assert session.stdout is not None
            # Textual's web driver says it is there before anything else.
            line = await asyncio.wait_for(session.stdout.readline(), 60)
            assert line == b"__GANGLION__\n", line
            sessions.append(session)
        consoles = set(_children(template.process.pid))
        assert len(consoles) == 2
        first, second = sessions
        first.kill()
        await first.wait()
        await eventually(
            lambda: len([p for p in consoles if _alive(p)]) == 1, "the killed session's console"
        )
        assert second.returncode is None
    finally:
        await template.stop()
    await eventually(lambda: not any(_alive(p) for p in consoles), "every console to end")
    await asyncio.wait_for(second.wait(), 10)
