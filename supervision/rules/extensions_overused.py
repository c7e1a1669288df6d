"""Extensions overused (延期): a department whose limits are extended on a large share
of its cases in a month, or a person who grants many extensions in a month.

An extension is lawful once per limit, with a reason (行政许可法 art. 42); granted
routinely it turns the promised limit into a formality. The department of an
extension is the department(s) of the extended task (a case-wide extension names no
department and counts only for the person who granted it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import cast

from pydantic import BaseModel, Field

from domain.departments import department_name
from supervision import monthly
from supervision.rule import Context, Finding, Severity

EXTENDED = "extended"


class Thresholds(BaseModel):
    max_share_percent: float = Field(
        default=10, ge=0, le=100, description="share of a department's cases extended in a month"
    )
    min_cases: int = Field(
        default=10, ge=1, le=100_000, description="cases a department needs in the month"
    )
    max_per_person: int = Field(
        default=10, ge=0, le=10_000, description="extensions one person may grant in a month"
    )


class ExtensionsOverused:
    code = "extensions_overused"
    name_zh = "延期使用过多"
    basis = (
        "《行政许可法》第四十二条：期限内不能作出决定的，经本行政机关负责人批准，可以延长"
        "（一次、说明理由）。该法未规定延期的比例或次数上限；本规则的比例与人次上限为"
        "本地监察口径，用以落实限时办结制度（山东省简化优化公共服务流程）。"
    )
    severity = Severity.MEDIUM
    Thresholds = Thresholds

    def evaluate(self, context: Context) -> Iterable[Finding]:
        limits = cast(Thresholds, context.thresholds)
        kinds = (EXTENDED, *monthly.DECISION_KINDS)
        for month in monthly.months_due(context, kinds):
            rows = monthly.rows_in_month(context.session, month, kinds, monthly.through_id(context))
            extended = [r for r in rows if r.kind == EXTENDED]
            yield from self._departments(context, limits, month, rows, extended)
            yield from self._people(limits, month, extended)

    def _departments(
        self,
        context: Context,
        limits: Thresholds,
        month: str,
        rows: list[monthly.Row],
        extended: list[monthly.Row],
    ) -> Iterator[Finding]:
        owners = monthly.task_departments(
            context.session, {(r.case_no, r.task_id) for r in extended if r.task_id}
        )
        by_department: dict[str, set[str]] = defaultdict(set)
        evidence: dict[str, list[monthly.Row]] = defaultdict(list)
        for row in extended:
            for department in owners.get((row.case_no, row.task_id or ""), []):
                by_department[department].add(row.case_no)
                evidence[department].append(row)
        cases = monthly.department_cases(rows)
        for department, extended_cases in sorted(by_department.items()):
            total = len(cases.get(department, set()) | extended_cases)
            share = monthly.percent(len(extended_cases), total)
            if total < limits.min_cases or share <= limits.max_share_percent:
                continue
            yield Finding(
                rule=self.code,
                key=f"{self.code}:dept:{department}:{month}",
                case_no=None,
                severity=self.severity,
                sentence=(
                    f"{department_name(department)} {month} 经办的 {total} 件案件中有 "
                    f"{len(extended_cases)} 件延期（{share:.0f}%，上限 "
                    f"{limits.max_share_percent:g}%），请核查延期理由。"
                ),
                department=department,
                audit_ids=tuple(r.id for r in evidence[department]),
            )

    def _people(
        self, limits: Thresholds, month: str, extended: list[monthly.Row]
    ) -> Iterator[Finding]:
        by_person: dict[str, list[monthly.Row]] = defaultdict(list)
        for row in extended:
            if row.actor_id:
                by_person[row.actor_id].append(row)
        for person, granted in sorted(by_person.items()):
            if len(granted) <= limits.max_per_person:
                continue
            name = granted[-1].actor_name or person
            yield Finding(
                rule=self.code,
                key=f"{self.code}:person:{person}:{month}",
                case_no=None,
                severity=self.severity,
                sentence=(
                    f"{name} {month} 共批准延期 {len(granted)} 次（上限 "
                    f"{limits.max_per_person} 次），请核查延期理由。"
                ),
                person=person,
                audit_ids=tuple(r.id for r in granted),
            )


RULE = ExtensionsOverused()
