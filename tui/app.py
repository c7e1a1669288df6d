"""The coordinators' console (``onechain tui``).

The app is handed a :class:`tui.desk.Desk` (the facade, ``client.facade.CaseDesk``)
or a way to connect to one, and a SQLAlchemy engine for the read model. Lists and
counts come from the read model; one case's state comes from the workflow's Query;
actions go through the desk. Everything that waits (SQL, Temporal) runs in
workers; widgets are changed only on the app's own loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Engine
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen

from cli.safe_text import plain
from domain.case import CaseState
from domain.roles import Actor
from domain.timezone import cst_date
from tui.data import CaseFilter
from tui.desk import DayCounter, Desk, is_connection_error, ping
from tui.messages import Catalog
from tui.permissions import BULK, Act, applicable, may, offered
from tui.screens.action_form import ActionForm, ActionOutcome
from tui.screens.base import localize_bindings
from tui.screens.bulk import BulkForm, BulkRequest, BulkResult, BulkResultScreen
from tui.screens.case import CaseScreen
from tui.screens.cases import CasesScreen
from tui.screens.departments import DepartmentsScreen
from tui.screens.dialogs import ConfirmScreen, HelpScreen, JumpScreen, NoticeScreen
from tui.screens.finding import FindingScreen
from tui.screens.forecast import ForecastScreen
from tui.screens.overview import OverviewScreen
from tui.screens.supervision import SupervisionScreen
from tui.supervision_data import sees_supervision

SCREENS = ("overview", "cases", "departments", "supervision", "forecast")
JUMP_WORDS = {
    "overview": "overview",
    "o": "overview",
    "总览": "overview",
    "cases": "cases",
    "c": "cases",
    "办件": "cases",
    "departments": "departments",
    "d": "departments",
    "部门": "departments",
    "supervision": "supervision",
    "s": "supervision",
    "监察": "supervision",
    "督办": "supervision",
    "forecast": "forecast",
    "f": "forecast",
    "预测": "forecast",
}


class OneChainApp(App[None]):
    """一链办理 协调台."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    MODES: ClassVar[dict[str, Any]] = {
        "overview": OverviewScreen,
        "cases": CasesScreen,
        "departments": DepartmentsScreen,
        "supervision": SupervisionScreen,
        "forecast": ForecastScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("colon", "jump", "bind.jump"),
        Binding("question_mark", "help", "bind.help"),
        Binding("q", "quit", "bind.quit"),
        Binding("ctrl+l", "redraw", "bind.redraw", show=False),
        Binding("f2", "switch_language", "bind.lang", show=False),
        Binding("1", "switch_mode('overview')", "bind.overview", show=False),
        Binding("2", "switch_mode('cases')", "bind.cases", show=False),
        Binding("3", "switch_mode('departments')", "bind.departments", show=False),
        Binding("4", "switch_mode('supervision')", "bind.supervision", show=False),
        Binding("5", "switch_mode('forecast')", "bind.forecast", show=False),
    ]
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide")]

    connection: reactive[str] = reactive("ok")

    def __init__(
        self,
        *,
        engine: Engine,
        actor: Actor,
        desk: Desk | None = None,
        connect: Callable[[], Awaitable[Desk]] | None = None,
        lang: str = "zh",
        today: Callable[[], date] | None = None,
        refresh_seconds: float = 5.0,
        ping_seconds: float = 15.0,
        retry_seconds: float = 5.0,
        page_size: int = 100,
        start: str = "overview",
        days: DayCounter | None = None,
        screenshot_dir: Path | None = None,
        confirm_quit: str | None = None,
    ) -> None:
        super().__init__()
        from readmodel.departments import DepartmentNames

        self._department_names = DepartmentNames.of(engine)
        self.catalog = Catalog(lang, self._department_names)
        localize_bindings(self, self.catalog)
        self.engine = engine
        self.actor = actor
        self.desk = desk
        self._connect = connect
        self._today = today or (lambda: cst_date(datetime.now(UTC)))
        self.refresh_seconds = refresh_seconds
        self.ping_seconds = ping_seconds
        self.retry_seconds = retry_seconds
        self.page_size = page_size
        self.start = start
        self._days = days
        self._screenshot_dir = screenshot_dir
        #: A question to ask before ``q`` quits (``up``: quitting stops its processes).
        self.confirm_quit = confirm_quit
        self._last_probe = 0.0
        self.pending_filter: CaseFilter | None = None
        self.title = self.catalog.t("app.title")
        self.set_reactive(OneChainApp.connection, "ok" if desk is not None else "connecting")

    # ---------------------------------------------------------------- basics
    def today(self) -> date:
        return self._today()

    @property
    def days(self) -> DayCounter:
        if self._days is None:
            self._days = DayCounter.for_today(self.today(), self.engine)
        return self._days

    def on_mount(self) -> None:
        self.switch_mode(self.start)
        if self.desk is None and self._connect is not None:
            self.probe()
        if self.ping_seconds or self._connect is not None:
            self.set_interval(
                max(1.0, min(self.retry_seconds, self.ping_seconds or 5.0)), self._tick
            )

    # ------------------------------------------------------------- language
    async def action_switch_language(self) -> None:
        """F2 or the palette's 「切换语言 / Switch language」: Chinese ⇄ English."""
        await self.set_language("en" if self.catalog.lang == "zh" else "zh")

    async def set_language(self, lang: str) -> None:
        """Word the whole console in ``lang``: the screens are built again (their
        texts are composed once), keeping the screen, the list's filter and the open
        cases; dialogs and forms open at the moment are closed."""
        if lang == self.catalog.lang:
            return
        self.catalog = Catalog(lang, self._department_names)
        localize_bindings(self, self.catalog)
        self.title = self.catalog.t("app.title")
        mode = self.current_mode
        cases = self.cases_screen()
        if cases is not None and cases.is_mounted:
            self.pending_filter = cases.filter
        open_cases = [s.case_no for s in self.screen_stack if isinstance(s, CaseScreen)]
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        other = next(m for m in SCREENS if m != mode)
        await self.switch_mode(other)
        for name in SCREENS:
            if name != other:
                await self.remove_mode(name)
                self.add_mode(name, self.MODES[name])
        await self.switch_mode(mode)
        await self.remove_mode(other)
        self.add_mode(other, self.MODES[other])
        for case_no in open_cases:
            self.open_case(case_no)
        self.refresh_bindings()
        self.notify(self.catalog.t("lang.switched"))

    # ------------------------------------------------------------- terminal
    def action_redraw(self) -> None:
        """Ctrl+L: paint every cell again (after anything wrote over the screen)."""
        screen = self.screen
        screen.refresh(layout=True)
        update = screen._compositor.render_update(full=True, screen_stack=self._background_screens)
        self._display(screen, update)

    async def action_quit(self) -> None:
        """``q``: quit, after asking when quitting stops more than the console."""
        if self.confirm_quit is None:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        # A catalog key (the browser session's question) follows the language switch.
        self.push_screen(ConfirmScreen(self.catalog.t(self.confirm_quit)), answered)

    @property
    def screenshot_dir(self) -> Path:
        if self._screenshot_dir is None:
            from runtime.settings import get_settings

            self._screenshot_dir = get_settings().data_dir / "screenshots"
        return self._screenshot_dir

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """The palette's "Screenshot": an SVG in the data folder, and where it is."""
        folder = Path(path) if path else self.screenshot_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            saved = self.save_screenshot(filename, str(folder), time_format)
        except OSError as error:
            self.notify(
                self.catalog.t("screenshot.failed", message=str(error)),
                severity="error",
                markup=False,
            )
            return None
        self.notify(self.catalog.t("screenshot.saved", path=saved), markup=False, timeout=10)
        return saved

    # ------------------------------------------------------------ connection
    def connection_failed(self) -> None:
        self.connection = "lost"

    def connection_stalled(self) -> None:
        """Temporal or its workers did not answer (the facade's ``WorkerUnavailable``):
        the header stops saying 已连接; the next successful check or read clears it."""
        self.connection = "stalled"

    def outage(self, error: BaseException, *, acting: bool = False) -> str | None:
        """If ``error`` is an outage (no worker answered, Temporal unreachable), note
        it in the header and return the console's words for it; None otherwise.
        ``acting``: it answers an action already sent (which may still apply)."""
        from tui.outage import UNREACHABLE, outage_kind, outage_text

        kind = outage_kind(error, acting=acting)
        if kind is None:
            return None
        if kind == UNREACHABLE:
            self.connection_failed()
        else:
            self.connection_stalled()
        return outage_text(self.catalog.t, error, acting=acting)

    def connection_ok(self) -> None:
        self.connection = "ok"

    def read_model_failed(self, error: Exception) -> None:
        """The read model did not answer: say so and keep what is on screen; the
        next refresh tries again."""
        self.notify(
            plain(self.catalog.t("readmodel.error", message=str(error).splitlines()[0])),
            severity="error",
            markup=False,
        )

    def _tick(self) -> None:
        now = self.loop_time()
        due = self.retry_seconds if self.connection != "ok" else self.ping_seconds
        if any(w.group == "probe" and w.is_running for w in self.workers):
            return  # a check still waiting is let run to its timeout (a new one would cancel it)
        if due and now - self._last_probe >= due:
            self.probe()

    def loop_time(self) -> float:
        import time

        return time.monotonic()

    @work(exclusive=True, group="probe")
    async def probe(self) -> None:
        """Connect (first time) or check the connection; never raises."""
        self._last_probe = self.loop_time()
        try:
            if self.desk is None:
                if self._connect is None:
                    return
                self.desk = await self._connect()
            else:
                await ping(self.desk)
        except Exception as error:
            if self.desk is None or is_connection_error(error):
                self.connection = "lost"
                return
            raise
        was = self.connection
        if was == "stalled" and isinstance(self.screen, CaseScreen):
            self.screen.reload()  # the server answers; whether a worker does, the read says
            return
        self.connection = "ok"
        if was != "ok" and isinstance(self.screen, CaseScreen):
            self.screen.reload()

    # ------------------------------------------------------------ navigation
    def open_case(self, case_no: str) -> None:
        self.push_screen(CaseScreen(case_no))

    def offers_mode(self, mode: str) -> bool:
        """Whether this person gets a screen: 监察 is for supervisors, administrators
        and reviewers (their department's 督办 inbox)."""
        if mode == "forecast":  # 预测: as `onechain forecast` (coordinators and above)
            return self.actor.role in ("coordinator", "supervisor", "administrator")
        return mode != "supervision" or sees_supervision(self.actor)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "switch_mode" and parameters:
            return self.offers_mode(str(parameters[0]))
        return True

    def supervision_desk(self) -> Any:
        """A ``client.supervision_desk.SupervisionDesk`` on the case desk's connection
        and credentials (the signed-in person); None until Temporal is connected."""
        desk = self.desk
        if desk is None or getattr(desk, "client", None) is None:
            return None
        cached = getattr(self, "_supervision_desk", None)
        if cached is not None and cached[0] is desk:
            return cached[1]
        from client.supervision_desk import SupervisionDesk

        credentials_for = getattr(desk, "credentials_for", None)
        credentials = credentials_for(self.actor) if credentials_for is not None else None
        made = SupervisionDesk(
            desk.client,  # type: ignore[attr-defined]
            credentials,
            task_queue=getattr(desk, "task_queue", None),
            proof_clock=getattr(desk, "proof_clock", None),
        )
        self._supervision_desk = (desk, made)
        return made

    def cases_screen(self) -> CasesScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, CasesScreen)), None)

    def show_department(self, department: str) -> None:
        self.show_cases(CaseFilter(department=department))

    def show_cases(self, flt: CaseFilter) -> None:
        """The Cases list filtered to ``flt`` (from an Overview card or row, a department)."""
        self.switch_mode("cases")
        screen = self.cases_screen()
        while self.screen is not screen and len(self.screen_stack) > 1:
            self.pop_screen()
        if screen is not None and screen.is_mounted:
            screen.set_filter(flt)
        else:
            self.pending_filter = flt

    def action_jump(self) -> None:
        def chosen(text: str | None) -> None:
            if not text:
                return
            target = JUMP_WORDS.get(text.lower())
            if target is not None:
                if self.offers_mode(target):
                    self.switch_mode(target)
            else:
                self.open_case(text.strip())

        self.push_screen(JumpScreen(), chosen)

    def action_help(self) -> None:
        screen = self.screen
        ours = set(self.catalog._strings.values())
        lines: list[tuple[str, str]] = [
            (key, self.catalog.t(text)) for key, text in getattr(screen, "HELP_EXTRA", ())
        ]
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            description = binding.description
            if description not in ours or description in seen or not active.enabled:
                continue  # Textual's own keys (tabs, focus, copy) are not ours to explain
            seen.add(description)
            lines.append((self.get_key_display(binding), description))
        name = getattr(screen, "screen_name", None) or type(screen).__name__
        title = {
            OverviewScreen: "screen.overview",
            CasesScreen: "screen.cases",
            CaseScreen: "screen.case",
            DepartmentsScreen: "screen.departments",
            SupervisionScreen: "screen.supervision",
            FindingScreen: "screen.finding",
            ForecastScreen: "screen.forecast",
        }.get(type(screen))
        self.push_screen(HelpScreen(self.catalog.t(title) if title else name, lines))

    # --------------------------------------------------------------- palette
    def current_case(self, screen: Screen[Any]) -> str | None:
        if isinstance(screen, CaseScreen):
            return screen.case_no
        if isinstance(screen, CasesScreen):
            return screen.selected_case()
        return None

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        t = self.catalog.t
        for name in SCREENS:
            if not self.offers_mode(name):
                continue
            label = t(f"screen.{name}")
            yield SystemCommand(
                t("cmd.jump", screen=label),
                t("cmd.jump_help", screen=label),
                partial(self.switch_mode, name),
            )
        yield SystemCommand(t("cmd.lang"), t("cmd.lang_help"), self.action_switch_language)
        case_no = self.current_case(screen)
        state = screen.state if isinstance(screen, CaseScreen) else None
        if case_no is not None:
            for act in offered(self.actor):
                if state is not None and not applicable(self.actor, act, state):
                    continue
                yield SystemCommand(
                    t("cmd.on_case", action=t(f"act.{act}"), case_no=case_no),
                    t(f"act.help.{act}"),
                    partial(self.begin_action, act, case_no, state),
                )
        if isinstance(screen, CasesScreen) and screen.marked:
            for act in BULK:
                if may(self.actor, act):
                    yield SystemCommand(
                        t(f"act.bulk_{act}") + f" ({len(screen.marked)})",
                        t(f"act.help.bulk_{act}"),
                        partial(self.begin_bulk, act, list(screen.marked)),
                    )
        yield from super().get_system_commands(screen)

    # ---------------------------------------------------------------- acting
    def begin_action(self, act: Act, case_no: str, state: CaseState | None = None) -> None:
        """Open the form of ``act`` for ``case_no`` (reading its state first if needed)."""
        if not may(self.actor, act):
            return
        if state is not None:
            self._open_form(act, state)
        else:
            self._fetch_then_form(act, case_no)

    @work(exclusive=True, group="begin-action")
    async def _fetch_then_form(self, act: Act, case_no: str) -> None:
        from client.facade import CaseError

        if self.desk is None:
            self.notify(self.catalog.t("conn.lost_short"), severity="error")
            return
        try:
            state = await self.desk.state(case_no)
        except Exception as error:
            said = self.outage(error)
            if said is None and not isinstance(error, CaseError):
                raise
            text = said if said is not None else self.catalog.refused(error)
            self.notify(plain(text), severity="error", markup=False, timeout=10)
            return
        self._open_form(act, state)

    def _open_form(self, act: Act, state: CaseState) -> None:
        self.push_screen(ActionForm(act, state), self.after_action)

    def after_action(self, outcome: ActionOutcome | None) -> None:
        if outcome is None:
            return
        t = self.catalog.t
        self.notify(
            plain(
                t(
                    "done",
                    action=t(f"act.{outcome.act}"),
                    message=self.catalog.codes(outcome.message),
                )
            ),
            markup=False,
        )
        self.refresh_views()
        if outcome.notice:
            self.push_screen(NoticeScreen(t("notice.title"), outcome.notice))

    def refresh_views(self) -> None:
        """Show a change at once: the case from its Query, lists from the read model
        (now, and again shortly, as the projection follows the workflow)."""
        for screen in self.screen_stack:
            if isinstance(screen, CaseScreen | CasesScreen):
                screen.reload()
        cases = self.cases_screen()
        if cases is not None:
            self.set_timer(1.0, cases.reload)

    def begin_bulk(self, act: Act, case_numbers: list[str]) -> None:
        if not may(self.actor, act) or act not in BULK:
            return
        if not case_numbers:
            self.notify(self.catalog.t("bulk.no_marks"), severity="warning")
            return
        self._bulk_open_cases(act, case_numbers)

    @work(exclusive=True, group="bulk-check")
    async def _bulk_open_cases(self, act: Act, case_numbers: list[str]) -> None:
        """Warn about and leave out concluded cases before the form sends anything."""
        import asyncio

        from tui.data import case_statuses

        statuses = await asyncio.to_thread(case_statuses, self.engine, case_numbers)
        concluded = [n for n in case_numbers if statuses.get(n, "running") != "running"]
        if concluded:
            self.notify(
                self.catalog.t("bulk.skipped", count=len(concluded), cases="、".join(concluded)),
                severity="warning",
                markup=False,
            )
        open_cases = [n for n in case_numbers if n not in concluded]
        if not open_cases:
            self.notify(self.catalog.t("bulk.all_concluded"), severity="warning")
            return
        self._bulk_form(act, open_cases)

    def _bulk_form(self, act: Act, case_numbers: list[str]) -> None:
        def chosen(request: BulkRequest | None) -> None:
            if request is not None:
                self.push_screen(BulkResultScreen(request))

        self.push_screen(BulkForm(act, case_numbers), chosen)

    def after_bulk(self, request: BulkRequest, results: list[BulkResult]) -> None:
        cases = self.cases_screen()
        if cases is not None:
            cases.marked.clear()
        self.refresh_views()
