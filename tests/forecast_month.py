"""Loads tests/fixtures/forecast_month.json (see make_forecast_month.py) into a read model:
the rows the projector would have written for those cases and tasks."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import Engine

from domain.timezone import CST
from readmodel.database import write_session
from readmodel.tables import CaseRecord, TaskRecord

FIXTURE = Path(__file__).parent / "fixtures" / "forecast_month.json"


def _at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(10), tzinfo=CST).astimezone(UTC)


def load_month(engine: Engine) -> date:
    """Writes the month into ``engine``'s read model; returns the fixture's "now"."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    open_cases = {t[0] for t in data["tasks"] if t[4] is None}
    with write_session(engine) as session:
        for case_no, chain, accepted in data["cases"]:
            day = date.fromisoformat(accepted)
            session.add(CaseRecord(
                case_no=case_no, chain=chain, chain_version=1,
                status="running" if case_no in open_cases else "concluded", stage="review",
                applicant_name="某公司", applicant_id_masked="9137****", received_at=_at(accepted),
                accepted_on=day, due_on=day, provisional=False, statutory_due_on=day,
                warning="none", case_warning="none", updated_at=_at(accepted), last_seq=1,
            ))  # fmt: skip
        for row in data["tasks"]:
            case_no, task_id, departments, started, concluded, due, warning, limit, name = row[:9]
            verdict = row[9]
            session.add(TaskRecord(
                case_no=case_no, task_id=task_id, kind="review", name=name, stage="review",
                departments=departments, open_departments=[] if concluded else departments,
                status=verdict if concluded else "open", started_at=_at(started),
                concluded_at=_at(concluded) if concluded else None,
                due_on=date.fromisoformat(due), warning="none",
                clock={"limit_days": limit, "warning_on": warning, "stopped": False},
            ))  # fmt: skip
    return date.fromisoformat(data["now"])
