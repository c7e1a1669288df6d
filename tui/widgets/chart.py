"""Cases accepted and concluded per day, as a small plotext chart."""

from __future__ import annotations

from datetime import date

from textual_plotext import PlotextPlot


class DailyChart(PlotextPlot):
    """Two series over the last days. Labels stay ASCII: plotext measures text in
    single-width cells, so Chinese labels go in the surrounding widgets."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._days: list[date] = []
        self._accepted: list[int] = []
        self._concluded: list[int] = []

    def set_data(self, days: list[date], accepted: list[int], concluded: list[int]) -> None:
        self._days, self._accepted, self._concluded = days, accepted, concluded
        self.replot()

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        if self._days:
            xs = list(range(len(self._days)))
            labels = [d.strftime("%m-%d") for d in self._days]
            step = max(1, len(xs) // 7)
            plt.plot(xs, self._accepted, marker="hd", color="cyan")
            plt.plot(xs, self._concluded, marker="hd", color="green")
            plt.xticks(xs[::step], labels[::step])
            top = max([*self._accepted, *self._concluded, 1])
            plt.ylim(0, top)
        self.refresh()
