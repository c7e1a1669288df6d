"""What the console's forecast screen shows, computed outside the screen: the baseline
forecast and, when a what-if switch is set, the same forecast under it (same seed), as
plain rows and series the screen only lays out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine

from forecast.forecast import (
    Forecast,
    ForecastError,
    WhatIf,
    make_forecast,
    parse_arrivals,
    parse_capacity,
    parse_holidays,
    reviewers_of,
)

#: The console draws fewer futures than the CLI: quick enough to redraw on each switch.
CONSOLE_FUTURES = 400
CONSOLE_SEED = 24  # fixed: the same switches give the same picture


@dataclass(frozen=True)
class Switches:
    """The what-if switches as typed (empty: not set)."""

    arrivals: str = ""
    capacity: str = ""  # "fire=-2, market=-30%"
    holiday: str = ""  # "2026-12-31:2027-01-03"

    @property
    def any(self) -> bool:
        return bool(self.arrivals.strip() or self.capacity.strip() or self.holiday.strip())


@dataclass(frozen=True)
class Series:
    """Red cards per day: the expected count and its 80 % interval."""

    days: list[date]
    mean: list[float]
    low: list[int]
    high: list[int]


@dataclass(frozen=True)
class ForecastView:
    baseline: Forecast
    what_if: Forecast | None
    error: str = ""  # a switch that could not be read: shown, baseline kept
    said: dict[str, str] = field(default_factory=dict)

    def series(self, forecast: Forecast, department: str | None) -> Series:
        """All departments summed (the overview) or one department."""
        chosen = [d for d in forecast.departments if department in (None, d.department)]
        n = len(forecast.days)
        return Series(
            forecast.days,
            [sum(d.days[k].red for d in chosen) for k in range(n)],
            [sum(d.days[k].red_low for d in chosen) for k in range(n)],
            [sum(d.days[k].red_high for d in chosen) for k in range(n)],
        )


def read_switches(engine: Engine, switches: Switches) -> WhatIf:
    """The switches as a what-if; a wrong one raises ForecastError naming it."""
    from workflows import registry

    assumption = WhatIf()
    if switches.arrivals.strip():
        assumption = assumption.merged(parse_arrivals(switches.arrivals))
    capacity = [p.strip() for p in switches.capacity.replace("，", ",").split(",") if p.strip()]
    if capacity:
        known = {d for c in registry.all_chains() for d in c.departments}
        assumption = assumption.merged(parse_capacity(capacity, reviewers_of(engine), known))
    holidays = [p.strip() for p in switches.holiday.replace("，", ",").split(",") if p.strip()]
    if holidays:
        assumption = assumption.merged(parse_holidays(holidays))
    return assumption


def forecast_view(
    engine: Engine, today: date, switches: Switches, days: int = 10, futures: int = CONSOLE_FUTURES
) -> ForecastView:
    options = dict(days=days, futures=futures, seed=CONSOLE_SEED, at_risk=10)
    baseline = make_forecast(engine, today, **options)  # type: ignore[arg-type]
    if not switches.any:
        return ForecastView(baseline, None)
    try:
        assumption = read_switches(engine, switches)
        what_if = make_forecast(engine, today, what_if=assumption, **options)  # type: ignore[arg-type]
    except ForecastError as error:
        return ForecastView(baseline, None, error=str(error))
    return ForecastView(baseline, what_if, said=assumption.said)
