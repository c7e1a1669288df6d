"""The office's performance report for a period, as ``onechain report`` computes it.

``onechain report`` and ``onechain supervise report`` both call :func:`office_report`,
so the same period gives the same figures in both (same chain limits, same calendar
years, same department names): the monthly supervision report must agree exactly with
the performance report, and sharing the one path is how it is kept so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from domain.calendar import WorkCalendar
from domain.timezone import cst_date
from readmodel.tables import CaseRecord
from reporting.performance import ChainLimits, Report, build_report


def chain_limits() -> dict[str, ChainLimits]:
    """What each registered chain promises (names and limits), by code."""
    import chains  # noqa: F401  (registers the chains)
    from workflows import registry

    return {
        c.code: ChainLimits(
            name=c.name_zh, promised_days=c.promised_days, statutory_days=c.statutory_days
        )
        for c in registry.all_chains()
    }


def known_chain(engine: Engine, chain: str, limits: dict[str, ChainLimits]) -> bool:
    """A registered chain, or one the read model still holds cases of (a retired chain)."""
    if chain in limits:
        return True
    from readmodel.database import read_session

    with read_session(engine) as session:
        found = session.exec(select(CaseRecord.case_no).where(CaseRecord.chain == chain).limit(1))
        return found.first() is not None


def calendar_years(
    session: Session, start: date | None, end: date | None, today: date
) -> tuple[int, int]:
    """The years the calendar must cover: the period, or the accepted dates on file."""
    low, _high = session.exec(
        select(func.min(CaseRecord.accepted_on), func.max(CaseRecord.accepted_on))
    ).one()
    first = (start or low or today).year
    last = max((end or today).year, today.year)
    return min(first, last), last


def office_calendar(engine: Engine, session: Session, start: date | None, end: date | None):
    """The office calendar (from the shared store) over the years a period needs."""
    from readmodel.calendar_store import calendar_from_store

    first, last = calendar_years(session, start, end, cst_date(datetime.now(UTC)))
    return WorkCalendar(calendar_from_store(engine, first - 1, last + 1))


def office_report(
    engine: Engine,
    limits: dict[str, ChainLimits],
    *,
    start: date | None,
    end: date | None,
    chain: str | None,
) -> tuple[Report, WorkCalendar]:
    """The performance report for cases accepted in [start, end], department names as
    the office calls them; with the calendar it was computed on."""
    from readmodel.database import read_session
    from readmodel.departments import DepartmentNames

    with read_session(engine) as session:
        calendar = office_calendar(engine, session, start, end)
        result = build_report(session, calendar, limits, start=start, end=end, chain=chain)
    names = DepartmentNames.of(engine)  # the office's names, not the code's
    for figures in result.departments:
        figures.name = names(figures.department)
    return result, calendar
