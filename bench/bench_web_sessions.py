"""Many coordinators at once in the browser console (issue 26, point 7). Not a test.

Starts, in a fresh data folder: ``onechain up --no-tui --headless --demo`` (a dev
server, a worker, the sign-in service and the demo cases: real workflows), fills the
read model up to ``--cases`` (default 5,000) with sample rows (``tui.demo.fill``: the
list and the overview see them all; only the demo cases are opened and acted on),
one coordinator account per session, and one ``onechain web``. Then N (default 20)
headless Chromium contexts (Debian's ``chromium``, Playwright for Python, as
``tests/test_web_console.py``) open the page within a second of each other and each:

* **sign-in form**: page opened → the sign-in form on screen,
* **list**: Enter on the password → the case list on screen,
* ``--rounds`` times: search a demo case, then **open case**: Enter → the case's
  details (its Query answered) on screen, and **action**: an urge, Ctrl+S → its
  form closed with the answer; Escape back to the list.

Then everybody stays signed in and idle for ``--idle`` seconds: **idle CPU** is the CPU
time of ``onechain web`` and every process under it over that time (percent of one
core), and **memory** is their PSS (shared pages split between the processes that
share them, so the sum is what they really take) and RSS, split into the server, the
console template and the sessions. Printed as a table; nothing is asserted.

    python bench/bench_web_sessions.py                      # 20 sessions, 5,000 cases
    python bench/bench_web_sessions.py --sessions 5 --rounds 2
    ONECHAIN_WEB_FORK=0 python bench/bench_web_sessions.py  # a process per session
    python bench/bench_web_sessions.py --onechain /other/checkout/.venv/bin/onechain
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-web-sessions-2026"
#: Keeps every xterm.js Terminal the page makes, to read the screen (as the test does).
CAPTURE = """
window.__terminals = [];
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true, get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer) window.__terminals.push(value);
  },
});
"""
READ = """
() => {
  const term = window.__terminals.find((t) => t.buffer && t.buffer.active);
  if (!term) return "";
  const b = term.buffer.active, lines = [];
  for (let r = 0; r < term.rows; r++) {
    const line = b.getLine(b.viewportY + r); lines.push(line ? line.translateToString(true) : "");
  }
  return lines.join("\\n");
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ processes
def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def tree(root: int) -> set[int]:
    """``root`` and every process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            parents[int(entry.name)] = int(fields[1])
    found, todo = {root}, [root]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def cpu_seconds(pids: set[int]) -> float:
    ticks = 0
    for pid in pids:
        if fields := _stat(pid):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int) -> tuple[float, float]:
    """(PSS, RSS) in MiB."""
    values = {"Pss:": 0.0, "Rss:": 0.0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, *rest = line.split()
            if key in values:
                values[key] = int(rest[0]) / 1024
    except OSError:
        pass
    return values["Pss:"], values["Rss:"]


def private_mib(pid: int) -> float:
    """Pages only this process holds (USS), in MiB."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, *rest = line.split()
            if key in ("Private_Clean:", "Private_Dirty:"):
                total += int(rest[0])
    except OSError:
        pass
    return total / 1024


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# ------------------------------------------------------------------ the office
def prepare(env: dict[str, str], cases: int, sessions: int, onechain: str) -> tuple[Any, list]:
    """``up --demo`` running, the read model filled, accounts made; (up, demo cases)."""
    os.environ.update(env)
    from datetime import date

    from readmodel.database import ready_engine
    from runtime.keys import keys_dir, load_signing_keys
    from runtime.settings import get_settings
    from trust import accounts
    from trust.action_proof import SessionKey
    from tui.data import CaseFilter, list_page
    from tui.demo import fill

    up_log = Path(env["ONECHAIN_DATA_DIR"]) / "up.log"
    up = subprocess.Popen(
        [onechain, "up", "--no-tui", "--headless", "--demo", "--port", env["BENCH_TEMPORAL_PORT"]],
        env={**os.environ},
        stdout=up_log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log("bench: onechain up --demo starting …")
    engine = None
    demo: list = []
    deadline = time.monotonic() + 600
    stable = 0
    while time.monotonic() < deadline:
        if up.poll() is not None:
            raise SystemExit(f"onechain up exited: {up_log.read_text(errors='replace')[-2000:]}")
        time.sleep(3)
        try:
            engine = engine or ready_engine(get_settings().resolved_database_url)
            page = list_page(engine, CaseFilter(search="DEMO"), 0, 500)
        except Exception:
            continue
        running = [r.case_no for r in page.rows if r.status == "running"]
        stable = stable + 1 if running and len(running) == len(demo) else 0
        demo = running
        if stable >= 3:
            break
    if not demo:
        raise SystemExit("no running demo case appeared in 10 min")
    log(f"bench: {len(demo)} running demo cases")
    assert engine is not None
    have = list_page(engine, CaseFilter(), 0, 1).total
    if have < cases:
        log(f"bench: filling the read model with {cases - have:,} sample cases …")
        fill(engine, cases - have, date.today())
    keys = load_signing_keys(keys_dir(get_settings()))
    for n in range(sessions):
        user_id = f"bench{n:02d}"
        one_time = accounts.add_user(
            engine, user_id=user_id, name=f"协调员{n:02d}", grants=["coordinator"], by="bench"
        )
        accounts.login(
            engine,
            keys,
            user_id=user_id,
            password=one_time,
            lifetime=timedelta(hours=1),
            session_key=SessionKey.generate().public_text,
            new_password=PASSWORD,
        )
    return up, demo


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> float:
    started = time.monotonic()
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return time.monotonic() - started


# ------------------------------------------------------------------ one person
class Person:
    def __init__(self, context: Any, user_id: str, cases: list[str], rounds: int) -> None:
        self.context, self.user_id, self.cases, self.rounds = context, user_id, cases, rounds
        self.times: dict[str, list[float]] = {
            "sign-in form": [],
            "list": [],
            "open case": [],
            "action": [],
        }
        self.failed: str | None = None
        self.skipped = 0

    async def screen(self) -> str:
        return str(await self.page.evaluate(READ))

    async def until(self, check: Any, what: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not check(await self.screen()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.user_id}: {what}:\n{await self.screen()}")
            await asyncio.sleep(0.05)

    async def run(self, url: str, t: Any, urge_key: str) -> None:
        try:
            self.page = await self.context.new_page()
            await self.page.add_init_script(CAPTURE)
            started = time.monotonic()
            await self.page.goto(url, wait_until="domcontentloaded")
            await self.until(lambda s: t("login.password") in s, "sign-in form")
            self.times["sign-in form"].append(time.monotonic() - started)
            await self.page.focus("textarea.xterm-helper-textarea")
            await self.page.keyboard.type(self.user_id)
            await self.page.keyboard.press("Tab")
            await self.page.keyboard.type(PASSWORD)
            started = time.monotonic()
            await self.page.keyboard.press("Enter")
            await self.until(lambda s: t("cases.col.case_no") in s, "the list")
            self.times["list"].append(time.monotonic() - started)
            for n in range(self.rounds):
                case_no = self.cases[n % len(self.cases)]
                if n:  # Escape on the list clears the last search
                    await self.page.keyboard.press("Escape")
                    await self.until(
                        lambda s: t("cases.range", first=1, last=1, total=1) not in s,
                        "the whole list",
                    )
                await self.page.keyboard.press("/")
                await self.until(lambda s: t("cases.search") in s, "search box")
                await self.page.keyboard.type(case_no)
                await self.page.keyboard.press("Enter")
                await self.until(
                    lambda s, c=case_no: t("cases.range", first=1, last=1, total=1) in s and c in s,
                    "the search",
                )
                started = time.monotonic()
                await self.page.keyboard.press("Enter")
                loading = t("case.loading", case_no=case_no)
                await self.until(
                    lambda s, w=loading: t("case.promised") in s and w not in s, "open case"
                )
                self.times["open case"].append(time.monotonic() - started)
                await self.page.keyboard.press(urge_key)
                title = t("form.title", action=t("act.urge"), case_no=case_no)
                try:
                    await self.until(lambda s, x=title: x in s, "the urge form", timeout=20)
                except TimeoutError:  # concluded meanwhile (the simulator decides): no urge
                    self.skipped += 1
                else:
                    started = time.monotonic()
                    await self.page.keyboard.press("Control+s")
                    await self.until(lambda s, x=title: x not in s, "the urge sent")
                    self.times["action"].append(time.monotonic() - started)
                await asyncio.sleep(0.5)
                await self.page.keyboard.press("Escape")
                await self.until(lambda s: t("cases.col.case_no") in s, "back to the list")
        except Exception as error:  # one person's failure is reported, the rest go on
            self.failed = str(error)[:400]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def drive(
    args: argparse.Namespace, url: str, cases: list[str], web: subprocess.Popen[bytes]
) -> None:
    web_pid = web.pid
    from playwright.async_api import async_playwright

    from tui.messages import Catalog
    from tui.permissions import KEYS, Act

    zh = Catalog("zh")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        people = []
        for n in range(args.sessions):
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            mine = cases[n :: args.sessions] or cases
            people.append(Person(context, f"bench{n:02d}", mine, args.rounds))
        log(f"bench: {args.sessions} browsers open the page …")
        began = time.monotonic()

        async def one(n: int, person: Person) -> None:
            await asyncio.sleep(n * args.spread / max(1, args.sessions))
            await person.run(url, zh.t, KEYS[Act.URGE])

        await asyncio.gather(*(one(n, p) for n, p in enumerate(people)))
        log(f"bench: all done in {time.monotonic() - began:.0f} s; idle for {args.idle:.0f} s …")
        await asyncio.sleep(5)  # the last answers settle
        pids = tree(web_pid)

        async def cpu_over(seconds: float) -> float:
            cpu_before, wall_before = cpu_seconds(pids), time.monotonic()
            await asyncio.sleep(seconds)
            return (cpu_seconds(pids) - cpu_before) / (time.monotonic() - wall_before) * 100

        just_idle = await cpu_over(args.idle / 2)
        await asyncio.sleep(max(0.0, 75 - args.idle / 2))  # past tui.polling.IDLE_AFTER
        idle_cpu = await cpu_over(args.idle / 2)
        print(
            f"\nidle CPU in the first {args.idle / 2:.0f} s after the last key: "
            f"{just_idle:.1f} % of one core"
        )
        report(args, people, web_pid, idle_cpu)
        took = await asyncio.to_thread(stop, web)
        print(
            f"SIGTERM to onechain web with {args.sessions} browsers connected: "
            f"everything stopped in {took:.2f} s"
        )
        await browser.close()


def report(args: argparse.Namespace, people: list[Person], web_pid: int, idle_cpu: float) -> None:
    pids = tree(web_pid) - {web_pid}
    template = {p for p in pids if "cli.web_fork" in command_of(p) and _stat(p)[1] == str(web_pid)}
    sessions = pids - template
    consoles = {p for p in sessions if (_stat(p) or ["", ""])[1] in {str(t) for t in template}}
    stand_ins = sessions - consoles
    server_pss, server_rss = memory_mib(web_pid)
    template_pss, template_rss = (
        (sum(x) for x in zip(*(memory_mib(p) for p in template), strict=True))
        if template
        else (0.0, 0.0)
    )

    def summed(group: set[int]) -> tuple[float, float]:
        mem = [memory_mib(p) for p in group]
        return sum(m[0] for m in mem), sum(m[1] for m in mem)

    session_pss, session_rss = summed(sessions)
    console_pss, console_rss = summed(consoles)
    stand_pss, stand_rss = summed(stand_ins)
    total_pss = server_pss + template_pss + session_pss
    n = max(1, args.sessions)
    failed = [p for p in people if p.failed]
    print()
    print(
        f"{args.sessions} browser sessions, {args.cases:,} cases, {args.rounds} rounds each "
        f"(fork: {os.environ.get('ONECHAIN_WEB_FORK', '1') != '0'})"
    )
    print("| measure | p50 | p95 | max | n |")
    print("|---|---|---|---|---|")
    for name in ("sign-in form", "list", "open case", "action"):
        samples = [s for p in people for s in p.times[name]]
        if samples:
            print(
                f"| {name} | {statistics.median(samples):.2f} s | {percentile(samples, 0.95):.2f} s "
                f"| {max(samples):.2f} s | {len(samples)} |"
            )
    print()
    print("| memory | PSS | RSS |")
    print("|---|---|---|")
    print(f"| onechain web (server) | {server_pss:.0f} MiB | {server_rss:.0f} MiB |")
    print(f"| console template | {template_pss:.0f} MiB | {template_rss:.0f} MiB |")
    print(f"| {len(sessions)} session processes | {session_pss:.0f} MiB | {session_rss:.0f} MiB |")
    if consoles:
        print(
            f"| … {len(consoles)} forked consoles | {console_pss:.0f} MiB | {console_rss:.0f} MiB |"
        )
        print(f"| … {len(stand_ins)} stand-ins | {stand_pss:.0f} MiB | {stand_rss:.0f} MiB |")
        private = sum(private_mib(p) for p in consoles) / len(consoles)
        print(f"| … a forked console's own pages (USS), mean | {private:.0f} MiB | |")
    print(
        f"| per session (sessions / {n}) | {session_pss / n:.0f} MiB | {session_rss / n:.0f} MiB |"
    )
    print(
        f"| **total** | **{total_pss:.0f} MiB** | {server_rss + template_rss + session_rss:.0f} MiB |"
    )
    print()
    print(
        f"idle CPU of onechain web and everything under it, {args.idle / 2:.0f} s "
        "from 80 s after the last key: "
        f"{idle_cpu:.1f} % of one core ({idle_cpu / n:.2f} % per session)"
    )
    print(f"load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    skipped = sum(p.skipped for p in people)
    if skipped:
        print(f"urges not offered (the case had concluded meanwhile): {skipped}")
    for person in failed:
        print(f"FAILED {person.user_id}: {person.failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--spread", type=float, default=1.0, help="seconds over which pages open")
    parser.add_argument("--refresh", type=float, default=5.0)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--onechain", default=str(Path(sys.executable).with_name("onechain")))
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-web-"))
    env = {
        "ONECHAIN_DATA_DIR": str(folder),
        "ONECHAIN_SIGNIN_URL": f"http://127.0.0.1:{free_port()}",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{(tport := free_port())}",
        "BENCH_TEMPORAL_PORT": str(tport),
        "ONECHAIN_SESSION_FILE": str(folder / "session.json"),
    }
    up = web = None
    try:
        up, demo = prepare(env, args.cases, args.sessions, args.onechain)
        port = free_port()
        web = subprocess.Popen(
            [
                args.onechain,
                "web",
                "--port",
                str(port),
                "--start",
                "cases",
                "--refresh",
                str(args.refresh),
            ],
            env={**os.environ},
            stdout=(folder / "web.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline or web.poll() is not None:
                raise SystemExit(f"onechain web did not start: {(folder / 'web.log').read_text()}")
            time.sleep(0.3)
        time.sleep(2)  # the console template warms up
        asyncio.run(drive(args, f"http://127.0.0.1:{port}/", demo, web))
    finally:
        for process in (web, up):
            if process is not None:
                stop(process)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            log(f"bench: data kept in {folder}")


if __name__ == "__main__":
    main()
