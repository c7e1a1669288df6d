"""The monthly report's tables (per chain, per department, per rule, findings, 督办,
notes), the same rows for the CSV files, the XLSX sheets and the summary page."""

from __future__ import annotations

from typing import Any

from reporting.performance import ChainFigures, DepartmentFigures
from reporting.supervision_report import NO_CHAIN, Duban, MonthlyReport, Ratings
from reporting.tabular import Column, Kind, Sheet

T, N, R, D, S = Kind.TEXT, Kind.COUNT, Kind.RATE, Kind.DAYS, Kind.SCORE

_CASE_COLUMNS = (
    Column("concluded", "办结"),
    Column("concluded_rate", "办结率", R),
    Column("on_time", "按时办结"),
    Column("on_time_rate", "按时办结率", R),
    Column("early", "提前办结"),
    Column("early_rate", "提前办结率", R),
    Column("avg_working_days", "平均用时（工作日）", D),
    Column("max_working_days", "最长用时（工作日）"),
)
_AFTER_COLUMNS = (
    Column("overdue_open", "超期在办"),
    Column("concluded_late", "超期办结"),
    Column("rated", "评价数"),
    Column("avg_rating", "平均评分", S),
    Column("bad_ratings", "差评"),
    Column("findings", "监察发现"),
    Column("duban_opened", "督办发起"),
    Column("duban_closed", "督办办结"),
    Column("duban_avg_days", "督办平均办结用时（工作日）", D),
)
CHAIN_COLUMNS = (
    Column("code", "链条代码", T),
    Column("name", "链条", T),
    Column("received", "办件量"),
    *_CASE_COLUMNS,
    Column("promised_days", "承诺时限（工作日）"),
    *_AFTER_COLUMNS,
)
DEPARTMENT_COLUMNS = (
    Column("code", "部门代码", T),
    Column("name", "部门", T),
    Column("tasks", "任务"),
    *_CASE_COLUMNS,
    Column("avg_limit_days", "平均时限（工作日）", D),
    *_AFTER_COLUMNS,
)
RULE_COLUMNS = (
    Column("rule", "规则代码", T),
    Column("name", "规则", T),
    Column("severity", "严重程度", T),
    Column("findings", "监察发现"),
)
FINDING_COLUMNS = (
    Column("rule", "规则代码", T),
    Column("rule_name", "规则", T),
    Column("severity", "严重程度", T),
    Column("department", "部门代码", T),
    Column("department_name", "部门", T),
    Column("chain", "链条代码", T),
    Column("chain_name", "链条", T),
    Column("findings", "监察发现"),
)
DUBAN_COLUMNS = (
    Column("scope", "范围", T),
    Column("code", "代码", T),
    Column("name", "名称", T),
    Column("opened", "督办发起"),
    Column("responded", "部门反馈"),
    Column("escalated", "升级督办"),
    Column("closed", "督办办结"),
    Column("still_open", "未办结"),
    Column("avg_days_to_close", "平均办结用时（工作日）", D),
    Column("max_days_to_close", "最长办结用时（工作日）"),
)
NOTE_COLUMNS = (Column("item", "项目", T), Column("text", "说明", T))


def _case_figures(figures: ChainFigures | DepartmentFigures) -> dict[str, Any]:
    return {c.key: getattr(figures, c.key) for c in _CASE_COLUMNS} | {
        "overdue_open": figures.overdue_open,
        "concluded_late": figures.concluded_late,
    }


def _supervision(findings: int, duban: Duban | None) -> dict[str, Any]:
    return {
        "findings": findings,
        "duban_opened": duban.opened if duban else 0,
        "duban_closed": duban.closed if duban else 0,
        "duban_avg_days": duban.avg_days_to_close if duban else None,
    }


def _ratings(ratings: Ratings | None) -> dict[str, Any]:
    ratings = ratings or Ratings()
    return {
        "rated": ratings.rated,
        "avg_rating": ratings.avg_rating,
        "bad_ratings": ratings.bad_ratings,
    }


def chain_rows(report: MonthlyReport) -> list[dict[str, Any]]:
    """One row per chain with cases or findings, then 合计 (code ``*``)."""
    findings = report.findings_by("chain")
    duban = {d.code: d for d in report.duban_chains}
    rows = []
    performance = report.performance
    listed = {c.chain for c in performance.chains}
    for figures in performance.chains:
        rows.append(
            {"code": figures.chain, "name": figures.name, "received": figures.received}
            | _case_figures(figures)
            | {"promised_days": figures.promised_days}
            | _ratings(Ratings(**figures.model_dump(include=set(Ratings.model_fields))))
            | _supervision(findings.get(figures.chain, 0), duban.get(figures.chain))
        )
    for code in sorted((set(findings) | set(duban)) - listed):
        name = duban[code].name if code in duban else ""
        if not name:
            name = next((f.chain_name for f in report.findings if f.chain == code), "")
        rows.append(
            {"code": code or NO_CHAIN, "name": name, "received": 0}
            | _supervision(findings.get(code, 0), duban.get(code))
        )
    total = performance.total
    rows.append(
        {"code": "*", "name": total.name, "received": total.received}
        | _case_figures(total)
        | _ratings(Ratings(**total.model_dump(include=set(Ratings.model_fields))))
        | _supervision(sum(findings.values()), report.duban_total)
    )
    return rows


def department_rows(report: MonthlyReport) -> list[dict[str, Any]]:
    """One row per department with tasks, findings or 督办 in the month."""
    findings = report.findings_by("department")
    duban = {d.code: d for d in report.duban_departments}
    names = {f.department: f.department_name for f in report.findings}
    names |= {d.code: d.name for d in report.duban_departments}
    rows = []
    for figures in report.performance.departments:
        code = figures.department
        rows.append(
            {"code": code, "name": figures.name, "tasks": figures.tasks}
            | _case_figures(figures)
            | {"avg_limit_days": figures.avg_limit_days}
            | _ratings(report.department_ratings.get(code))
            | _supervision(findings.get(code, 0), duban.get(code))
        )
    listed = {d.department for d in report.performance.departments}
    for code in sorted((set(findings) | set(duban)) - listed):
        rows.append(
            {"code": code, "name": names.get(code, code), "tasks": 0}
            | _ratings(report.department_ratings.get(code))
            | _supervision(findings.get(code, 0), duban.get(code))
        )
    return rows


def duban_rows(report: MonthlyReport) -> list[dict[str, Any]]:
    rows = []
    for scope, entries in (("部门", report.duban_departments), ("链条", report.duban_chains)):
        rows += [{"scope": scope} | d.model_dump() for d in entries]
    rows.append({"scope": "合计"} | report.duban_total.model_dump())
    return rows


def note_rows(report: MonthlyReport) -> list[dict[str, Any]]:
    rows = [
        {"item": "月份 month", "text": report.month},
        {"item": "期间 period", "text": f"{report.period_from} – {report.period_to}"},
        {"item": "链条 chain", "text": report.chain or "全部 all"},
        {"item": "部门 department", "text": report.department or "全部 all"},
        {
            "item": "口径 basis",
            "text": "办件 = 当月受理的案件 (cases accepted in the month, China dates), "
            "与 onechain report 同一口径; 监察发现按发现时间 (findings by found_at, CST)",
        },
        {
            "item": "督办 basis",
            "text": "发起 = 当月交办, 反馈/升级/办结 = 当月该步骤, 未办结 = 当月交办尚未办结, "
            "办结用时 = 交办至办结的工作日 (supervision_items)",
        },
    ]
    rows += [{"item": "注 note", "text": line} for line in report.notes]
    return rows


def sheets(report: MonthlyReport) -> list[Sheet]:
    """Every table of the report, in the order of the workbook."""
    return [
        Sheet("chains", "按链条 chains", CHAIN_COLUMNS, chain_rows(report)),
        Sheet("departments", "按部门 departments", DEPARTMENT_COLUMNS, department_rows(report)),
        Sheet("rules", "监察规则 rules", RULE_COLUMNS, [r.model_dump() for r in report.rules]),
        Sheet(
            "findings",
            "监察发现 findings",
            FINDING_COLUMNS,
            [f.model_dump() for f in report.findings],
        ),
        Sheet("duban", "督办 duban", DUBAN_COLUMNS, duban_rows(report)),
        Sheet("notes", "说明 notes", NOTE_COLUMNS, note_rows(report)),
    ]
