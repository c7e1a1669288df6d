"""How warning levels, days left and deadlines look in tables."""

from __future__ import annotations

from rich.text import Text

from tui.messages import Catalog

WARNING_STYLES = {
    "red": "bold white on dark_red",
    "yellow": "bold black on yellow",
    "none": "green",
}


def warning_cell(catalog: Catalog, warning: str) -> Text:
    return Text(catalog.enum("warning", warning), style=WARNING_STYLES.get(warning, ""))


def days_left_cell(
    catalog: Catalog, left: int | None, warning: str = "none", *, due_today: bool = False
) -> Text:
    """Working days left, coloured: red when late (or red card), yellow on a yellow
    card or with two days or fewer, green otherwise. A limit due today is its own
    state (「今日到期」, yellow): a step is late only after the end of its due day
    (DOMAIN rule 3), so a 即办 step (limit 0) on its day is never 「超 0」."""
    if left is None:
        return Text("")
    if due_today:
        return Text(catalog.t("left.today"), style="bold yellow")
    if left <= 0:
        late = -left
        text = catalog.t("left.late", days=late) if late else catalog.t("left.late_day")
        return Text(text, style="bold red")
    if warning == "red":
        style = "bold red"
    elif warning == "yellow" or left <= 2:
        style = "bold yellow"
    else:
        style = "green"
    return Text(catalog.t("left.days", days=left), style=style, justify="right")


def deadline_bar(
    left: int | None,
    limit: int,
    warning: str,
    width: int = 10,
    *,
    due_today: str | None = None,
) -> Text:
    """How much of a limit is used: ``███████░░░ 3/10`` (days left / limit).

    ``due_today``: the label of a limit whose due day is today (the whole bar in
    yellow, not red: the day is not over)."""
    if left is None:
        return Text("")
    if due_today is not None:
        bar = Text("█" * width, style="yellow")
        bar.append(f" {due_today}")
        return bar
    limit = max(limit, 1)
    used = min(max(limit - left, 0), limit)
    filled = round(width * used / limit) if left > 0 else width
    style = WARNING_STYLES.get(warning, "green").replace("bold ", "")
    if left <= 0:
        style = "red"
    elif warning == "none":
        style = "green"
    elif warning == "yellow":
        style = "yellow"
    bar = Text("█" * filled, style=style)
    bar.append("░" * (width - filled), style="grey50")
    bar.append(f" {max(left, 0)}/{limit}")
    return bar


def short_list(names: list[str], keep: int = 3) -> str:
    if len(names) <= keep:
        return "、".join(names)
    return "、".join(names[:keep]) + f" +{len(names) - keep}"
