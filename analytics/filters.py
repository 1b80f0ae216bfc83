"""The global filters as plain data: what every page's load(filters) reads, and what the warm-up and
the bench pass for a first visit (the sidebar's widgets that set them live in ui.page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

PRESETS = {"24h": ("Last 24 hours", 1), "7d": ("Last 7 days", 7), "28d": ("Last 28 days", 28),
           "all": ("All data", None), "custom": ("Custom dates", None)}
DEFAULT_RANGE = "7d"


@dataclass(frozen=True)
class Filters:
    """The global filters: [start, end) in UTC and deployment/region selections (empty = all), and the
    data's span (analytics.store.queries.data_range) they were chosen in."""

    start: datetime
    end: datetime
    deployments: tuple[str, ...]
    regions: tuple[str, ...]
    data_start: datetime
    data_end: datetime

    @property
    def seconds(self) -> float:
        """Length of the range in seconds."""
        return (self.end - self.start).total_seconds()

    @property
    def step_seconds(self) -> int:
        """A chart resolution giving at most ~200 points over the range."""
        for step in (300, 900, 3600, 3 * 3600, 6 * 3600, 86400):
            if self.seconds / step <= 200:
                return step
        return 86400


def preset_span(choice: str, data_start: datetime, data_end: datetime) -> tuple[datetime, datetime]:
    """[start, end) of a preset time range (not "custom"): the last days of the data, or all of it."""
    days = PRESETS[choice][1]
    return (data_start, data_end) if days is None else (data_end - timedelta(days=days), data_end)


def default_filters(data_start: datetime, data_end: datetime) -> Filters:
    """The filters of a first visit without a link: the default range, every deployment and region."""
    return Filters(*preset_span(DEFAULT_RANGE, data_start, data_end), (), (), data_start, data_end)
