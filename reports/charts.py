"""Server-rendered SVG charts of the report pages.

The horizontal bar chart and the weekly created-vs-done chart are the tasks app's own
(tasks/charts.py), re-exported here; this module adds what the reports need beyond
them: a time-series column chart and a seat-utilisation chart. Every label goes through
format_html (resort and trip names are user text). Text carries presentation attributes
(fill, font-size), so the charts read well without any stylesheet; nothing is inline
CSS or script (the site's Content-Security-Policy allows neither).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from tasks.charts import CHAR_WIDTH, PALETTE, bar_chart, fit_label, weekly_chart

__all__ = ["PALETTE", "bar_chart", "column_chart", "utilisation_chart", "weekly_chart"]

# Text styling as presentation attributes, spliced into the (constant) format strings.
TEXT = 'fill="currentColor" font-size="11"'


def _n(value: float) -> str:
    return f"{value:.1f}"


def _svg(title: str, width: int, height: int, body: str) -> SafeString:
    return format_html(
        '<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}</svg>',
        title,
        width,
        height,
        title,
        mark_safe(body),  # noqa: S308 - body is built with format_html only
    )


def column_chart(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    value_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
    width: int = 720,
    height: int = 240,
    color: str = PALETTE[0],
    missing: str = "no data",
) -> SafeString:
    """Vertical columns, one per (label, value), in order (a time series). At most about
    twelve x-axis labels are drawn; every column has a tooltip with its label and value
    (`missing` for a None value: a week without a figure is not a zero)."""
    left, right, top, bottom = 64, 8, 12, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    biggest = max([v for _, v in points if v is not None] + [0])
    scale = biggest if biggest > 0 else 1
    slot = plot_w / max(len(points), 1)
    bar_w = max(slot * 0.8, 1)
    every = max(1, -(-len(points) // 12))  # ceil: no more than ~12 labels
    y_label = '<text x="{}" y="{}" text-anchor="end" class="chart-axis" ' + TEXT + ">{}</text>"
    # Axis ticks top, middle and 0, each drawn once: a tick whose label reads like one
    # already drawn (a small or empty range rounds them alike) would only mislead.
    ticks, seen = [], {"0", value_format(0)}
    for y, value in ((top + 4, biggest), (top + plot_h / 2 + 4, biggest / 2)):
        text = value_format(value)
        if value > 0 and text not in seen:
            ticks.append(format_html(y_label, left - 4, _n(y), text))
            seen.add(text)
    parts = [
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" stroke-opacity=".3"></line>'
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" stroke-opacity=".12"></line>',
            left,
            top + plot_h,
            width - right,
            top + plot_h,
            left,
            top,
            width - right,
            top,
        ),
        *ticks,
        format_html(y_label, left - 4, top + plot_h, "0"),
    ]
    x_label = '<text x="{}" y="{}" text-anchor="middle" class="chart-axis" ' + TEXT + ">{}</text>"
    for i, (label, value) in enumerate(points):
        x = left + i * slot + (slot - bar_w) / 2
        h = plot_h * max(value or 0, 0) / scale
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
                _n(x),
                _n(top + plot_h - h),
                _n(bar_w),
                _n(h),
                color,
                label,
                missing if value is None else value_format(value),
            )
        )
        if i % every == 0:
            parts.append(format_html(x_label, _n(x + bar_w / 2), height - bottom + 16, label))
    if not points:
        parts.append(format_html(x_label, left + plot_w // 2, top + plot_h // 2, "No data in this range"))
    return _svg(title, width, height, "".join(parts))


def _utilisation_color(share: float) -> str:
    if share >= 0.9:
        return PALETTE[1]  # green: nearly full
    if share >= 0.5:
        return PALETTE[0]
    return PALETTE[2]  # amber: mostly empty


def utilisation_chart(
    rows: Sequence[tuple[str, int, int]], *, title: str, width: int = 720, bar_height: int = 18
) -> SafeString:
    """One horizontal bar per (label, seats taken, capacity): the capacity as a pale track,
    the seats taken over it, and "taken/capacity (percent)" at the end. Labels get the room
    they need up to 40% of the width; a longer one ends in an ellipsis, with a tooltip."""
    gap, top, value_w = 6, 4, 120
    longest = max([len(label) for label, _, _ in rows] + [4])
    label_w = round(min(longest * CHAR_WIDTH + 12, width * 0.4))
    max_chars = max(int((label_w - 12) // CHAR_WIDTH), 4)
    span = width - label_w - value_w
    height = top + len(rows) * (bar_height + gap) + 4
    row_svg = (
        '<text x="{}" y="{}" text-anchor="end" class="chart-label" ' + TEXT + ">{}<title>{}</title></text>"
        '<rect x="{}" y="{}" width="{}" height="{}" rx="3" fill="currentColor" fill-opacity=".1"></rect>'
        '<rect x="{}" y="{}" width="{}" height="{}" rx="3" fill="{}"><title>{}: {} of {} seats</title></rect>'
        '<text x="{}" y="{}" class="chart-value" ' + TEXT + ">{}/{} ({}%)</text>"
    )
    parts = []
    for i, (label, taken, capacity) in enumerate(rows):
        y = top + i * (bar_height + gap)
        share = taken / capacity if capacity else 0.0
        text_y = _n(y + bar_height * 0.72)
        parts.append(
            format_html(
                row_svg,
                label_w - 8,
                text_y,
                fit_label(label, max_chars),
                label,
                label_w,
                y,
                span,
                bar_height,
                label_w,
                y,
                _n(span * min(share, 1.0)),
                bar_height,
                _utilisation_color(share),
                label,
                taken,
                capacity,
                label_w + span + 6,
                text_y,
                taken,
                capacity,
                round(share * 100),
            )
        )
    if not rows:
        height = 40
        parts.append(
            format_html(
                '<text x="{}" y="24" text-anchor="middle" class="chart-axis" ' + TEXT + ">{}</text>",
                width // 2,
                "No departures in this range",
            )
        )
    return _svg(title, width, height, "".join(parts))
