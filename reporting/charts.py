"""The report's one-page printable summary (A4 portrait): headline figures and four
charts, drawn with matplotlib's Agg backend (no display needed) as PNG and PDF.

Chinese labels need a CJK font. Nothing is bundled or downloaded: when the machine
has one of the usual CJK families (Noto Sans CJK, Source Han Sans, WenQuanYi,
SimHei, …; e.g. Debian's ``fonts-noto-cjk``) the page is in Chinese, otherwise its
labels are English and codes (department, chain and rule codes), and the Chinese
names stay in the CSV and XLSX tables. :func:`cjk_font` says which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reporting.supervision_report import MonthlyReport

#: Families tried in order; the first the machine has is used for Chinese labels.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
    "Droid Sans Fallback",
)
A4_PORTRAIT = (8.27, 11.69)
PNG_DPI = 150


def cjk_font() -> str | None:
    """The first CJK family the machine has, or None (then labels are English)."""
    from matplotlib import font_manager

    have = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in have), None)


def _label(chinese: str, english: str, font: str | None) -> str:
    return chinese if font else english


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _headline(report: MonthlyReport, font: str | None) -> str:
    total = report.performance.total
    duban = report.duban_total
    findings = sum(r.findings for r in report.rules)
    days = "—" if total.avg_working_days is None else f"{total.avg_working_days}"
    worst = "—" if total.max_working_days is None else f"{total.max_working_days}"
    rating = "—" if total.avg_rating is None else f"{total.avg_rating}"
    if font:
        return (
            f"办件量 {total.received}　办结 {total.concluded}　按时办结率 "
            f"{_percent(total.on_time_rate)}　提前办结率 {_percent(total.early_rate)}\n"
            f"平均用时 {days} 个工作日　最长 {worst}　超期在办 {total.overdue_open}\n"
            f"监察发现 {findings}　督办发起 {duban.opened}　办结 {duban.closed}　"
            f"好差评 {total.rated} 件，平均 {rating}，差评 {total.bad_ratings}"
        )
    return (
        f"Cases {total.received}   concluded {total.concluded}   on time "
        f"{_percent(total.on_time_rate)}   early {_percent(total.early_rate)}\n"
        f"Working days: average {days}, worst {worst}   overdue open {total.overdue_open}\n"
        f"Findings {findings}   duban opened {duban.opened}, closed {duban.closed}   "
        f"ratings {total.rated}, average {rating}, bad {total.bad_ratings}"
    )


def _bars(
    axis: Any,
    labels: list[str],
    series: list[tuple[str, list[float | None]]],
    *,
    rates: bool = False,
) -> None:
    """Horizontal grouped bars with their values, first label on top; counts on a whole
    number axis, rates as percentages; an empty chart says so."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    if not labels:
        axis.text(0.5, 0.5, "—", ha="center", va="center", transform=axis.transAxes)
        axis.set_yticks([])
        return
    height = 0.8 / len(series)
    positions = list(range(len(labels)))
    for index, (name, values) in enumerate(series):
        bars = axis.barh(
            [p - 0.4 + height * (index + 0.5) for p in positions],
            [v or 0 for v in values],
            height,
            label=name,
        )
        texts = ["—" if v is None else f"{v:.0%}" if rates else f"{v:g}" for v in values]
        axis.bar_label(bars, labels=texts, fontsize=6, padding=2)
    if rates:
        axis.set_xlim(0, 1.1)
        axis.xaxis.set_major_formatter(PercentFormatter(1.0))
    else:
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlim(0, max(v or 0 for _n, vs in series for v in vs) * 1.15 or 1)
    axis.set_yticks(positions, labels)
    axis.invert_yaxis()
    if len(series) > 1:
        axis.legend(fontsize=7, loc="lower right")
    axis.tick_params(labelsize=7)


def summary_figure(report: MonthlyReport, font: str | None) -> Any:
    """The one page as a matplotlib Figure (call under an rc_context naming the font)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=A4_PORTRAIT)
    grid = figure.add_gridspec(
        3,
        2,
        hspace=0.45,
        wspace=0.5,
        left=0.2,
        right=0.95,
        top=0.84,
        bottom=0.07,
    )
    scope = " / ".join(x for x in (report.chain, report.department) if x)
    title = _label(
        f"效能监察月报 {report.month}", f"Monthly supervision report {report.month}", font
    )
    figure.text(
        0.06, 0.97, title + (f"  ({scope})" if scope else ""), fontsize=15, weight="bold", va="top"
    )
    figure.text(0.06, 0.935, _headline(report, font), fontsize=9, va="top", linespacing=1.6)

    departments = report.performance.departments[:12]
    axis = figure.add_subplot(grid[0, :])
    _bars(
        axis,
        [d.name if font else d.department for d in departments],
        [
            (_label("按时办结率", "on time", font), [d.on_time_rate for d in departments]),
            (_label("提前办结率", "early", font), [d.early_rate for d in departments]),
        ],
        rates=True,
    )
    axis.set_title(
        _label("各部门按时、提前办结率", "On-time and early rate per department", font), fontsize=10
    )

    rules = [r for r in report.rules if r.findings] or report.rules
    axis = figure.add_subplot(grid[1, :])
    _bars(
        axis,
        [r.name if font and r.name else r.rule for r in rules],
        [(_label("监察发现", "findings", font), [r.findings for r in rules])],
    )
    axis.set_title(_label("各规则监察发现", "Findings per rule", font), fontsize=10)

    chains = report.performance.chains[:10]
    axis = figure.add_subplot(grid[2, 0])
    _bars(
        axis,
        [c.name if font and c.name else c.chain for c in chains],
        [
            (_label("办件量", "received", font), [c.received for c in chains]),
            (_label("办结", "concluded", font), [c.concluded for c in chains]),
        ],
    )
    axis.set_title(_label("各链条办件量", "Cases per chain", font), fontsize=10)

    duban = [d for d in report.duban_departments if d.opened or d.closed][:10]
    axis = figure.add_subplot(grid[2, 1])
    _bars(
        axis,
        [d.name if font else (d.code or "none") for d in duban],
        [
            (_label("发起", "opened", font), [d.opened for d in duban]),
            (_label("办结", "closed", font), [d.closed for d in duban]),
        ],
    )
    axis.set_title(_label("各部门督办", "Duban per department", font), fontsize=10)
    footer = _label(
        "办件按受理日统计，与 onechain report 同一口径；监察发现按发现时间（北京时间）。",
        "Cases by acceptance day (as onechain report); findings by the day found (CST). "
        "Chinese names: see the XLSX.",
        font,
    )
    figure.text(0.06, 0.025, footer, fontsize=7, color="#555555")
    return figure


def write_summary(
    report: MonthlyReport, png: Path, pdf: Path | None, font: str | None
) -> list[Path]:
    """Draw the page; write the PNG (and the PDF when asked and the font embeds).
    Returns what was written."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from runtime.private_files import open_private

    written = []
    rc = {"font.family": [font, "DejaVu Sans"]} if font else {}
    with matplotlib.rc_context(rc):
        figure = summary_figure(report, font)
        with open_private(png, "wb") as handle:
            figure.savefig(handle, format="png", dpi=PNG_DPI)
        written.append(png)
        if pdf is not None:
            try:
                with open_private(pdf, "wb") as handle:
                    figure.savefig(handle, format="pdf")
                written.append(pdf)
            except OSError:
                raise
            except Exception:  # a font the PDF backend cannot embed: the PNG stands
                pdf.unlink(missing_ok=True)
    return written
