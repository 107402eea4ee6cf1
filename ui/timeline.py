"""The coverage timeline of an answer: who reported the story when.

Each outlet is a row and each dated report a point: filled for a cited passage, hollow for
retrieved but uncited coverage, a cross for an outlet that ran a copy of the story ("also
reported by"). The figure is built with matplotlib's object API (no pyplot state), so
concurrent requests cannot draw into each other's figures.

Example:
    >>> points = coverage_points(answer)
    >>> figure = timeline_figure(answer)   # None when nothing in the answer is dated
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from newscite.types import Answer
from newscite.ui.render import sources_of

CITED, RETRIEVED, ALSO = "cited", "retrieved, not cited", "also reported by"
_STYLE = {CITED: dict(marker="o", color="#2563eb", s=70),
          RETRIEVED: dict(marker="o", facecolors="none", edgecolors="#6b7280", s=70),
          ALSO: dict(marker="x", color="#d97706", s=60)}


@dataclass(frozen=True)
class Point:
    """One dated report of the story: by `outlet` at `when`, of kind CITED/RETRIEVED/ALSO."""

    outlet: str
    when: datetime
    kind: str


def coverage_points(answer: Answer) -> list[Point]:
    """Dated reports behind `answer`: its passages (cited or not) and their copies elsewhere.

    A report is listed once, under its strongest kind (cited over retrieved over copy).
    """
    cited = {s.passage.chunk_id for s in sources_of(answer) if s.cited}
    best: dict[tuple[str, datetime], str] = {}
    rank = {CITED: 0, RETRIEVED: 1, ALSO: 2}
    for passage in answer.passages:
        reports = [(passage.source, passage.published_at,
                    CITED if passage.chunk_id in cited else RETRIEVED)]
        reports += [(c.source, c.published_at, ALSO) for c in passage.also_reported_by]
        for outlet, when, kind in reports:
            if when is None:
                continue
            key = (outlet or "Unknown outlet", when)
            if key not in best or rank[kind] < rank[best[key]]:
                best[key] = kind
    return sorted((Point(outlet, when, kind) for (outlet, when), kind in best.items()),
                  key=lambda p: (p.when, p.outlet))


def timeline_figure(answer: Answer) -> Figure | None:
    """A small plot of `coverage_points(answer)`; None when no report has a date."""
    points = coverage_points(answer)
    if not points:
        return None
    outlets = sorted({p.outlet for p in points}, key=lambda o: min(p.when for p in points
                                                                   if p.outlet == o))
    row = {outlet: i for i, outlet in enumerate(outlets)}
    figure = Figure(figsize=(5.2, 0.9 + 0.38 * len(outlets)), layout="constrained")
    axes = figure.add_subplot()
    for kind, style in _STYLE.items():
        chosen = [p for p in points if p.kind == kind]
        if chosen:
            axes.scatter([p.when for p in chosen], [row[p.outlet] for p in chosen],
                         label=kind, zorder=3, **style)
    axes.set_yticks(range(len(outlets)), [o[:28] for o in outlets], fontsize=8)
    axes.set_ylim(-0.7, len(outlets) - 0.3)
    axes.invert_yaxis()
    axes.set_xlim(*_day_bounds(points[0].when, points[-1].when))
    locator = AutoDateLocator(minticks=3, maxticks=6)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.tick_params(axis="x", labelsize=8)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axes.set_title("Coverage timeline", fontsize=9, loc="left")
    return figure


def _day_bounds(first: datetime, last: datetime) -> tuple[datetime, datetime]:
    """x limits on whole days with a margin, so the ticks are dates, never hours."""
    margin = max((last - first) * 0.08, timedelta(days=1))
    low = (first - margin).replace(hour=0, minute=0, second=0, microsecond=0)
    high = (last + margin).replace(hour=0, minute=0, second=0, microsecond=0)
    return low, high + timedelta(days=1)
