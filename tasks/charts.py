"""Small server-rendered SVG charts (no JavaScript, no external package).

Every label goes through format_html, so user text (assignee names, team names) is escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

PALETTE = ["#3559e0", "#1f8a4c", "#b7791f", "#c2303a", "#7b4bd6", "#138a9e", "#5b6478"]


def _n(value: float) -> str:
    return f"{value:.1f}"


def bar_chart(items: Sequence[tuple[str, int]], *, title: str, width: int = 300, bar_height: int = 20) -> SafeString:
    """Horizontal bars, one per (label, value)."""
    label_w, gap, top = 96, 6, 4
    height = top + len(items) * (bar_height + gap) + 4
    biggest = max([v for _, v in items] + [1])
    span = width - label_w - 50
    rows = []
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_height + gap)
        w = round(span * value / biggest) if value else 0
        rows.append(
            (
                label_w - 8,
                _n(y + bar_height * 0.7),
                label[:16],
                label_w,
                y,
                max(w, 1 if value else 0),
                bar_height,
                PALETTE[i % len(PALETTE)],
                label_w + w + 6,
                _n(y + bar_height * 0.7),
                value,
            )
        )
    body = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="end" class="chart-label">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="{}" rx="3" fill="{}"></rect>'
        '<text x="{}" y="{}" class="chart-value">{}</text>',
        rows,
    )
    return format_html(
        '<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}</svg>',
        title,
        width,
        height,
        title,
        body,
    )


def weekly_chart(
    weeks: Sequence[tuple[dt.date, int, int]], *, title: str, width: int = 960, height: int = 240
) -> SafeString:
    """Grouped columns per week: created (blue) against done (green)."""
    left, bottom, top = 30, 34, 12
    plot_h = height - bottom - top
    biggest = max([max(c, d) for _, c, d in weeks] + [1])
    slot = (width - left - 10) / max(len(weeks), 1)
    bar_w = max(slot / 2 - 3, 2)
    parts = []
    for i, (week, created, done) in enumerate(weeks):
        x = left + i * slot + 2
        for j, (value, color, name) in enumerate(((created, PALETTE[0], "created"), (done, PALETTE[1], "done"))):
            h = plot_h * value / biggest
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {}</title></rect>',
                    _n(x + j * (bar_w + 1)),
                    _n(top + plot_h - h),
                    _n(bar_w),
                    _n(h),
                    color,
                    week.strftime("%d %b"),
                    value,
                    name,
                )
            )
        if i % 2 == 0:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" class="chart-axis">{}</text>',
                    _n(x),
                    height - bottom + 14,
                    week.strftime("%d %b"),
                )
            )
    axis = format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" stroke-opacity=".3"></line>'
        '<text x="2" y="{}" class="chart-axis">{}</text><text x="2" y="{}" class="chart-axis">0</text>',
        left,
        top + plot_h,
        width - 8,
        top + plot_h,
        top + 10,
        biggest,
        top + plot_h,
    )
    legend = format_html(
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"></rect>'
        '<text x="{}" y="{}" class="chart-axis">created</text>'
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"></rect>'
        '<text x="{}" y="{}" class="chart-axis">done</text>',
        left,
        height - 12,
        PALETTE[0],
        left + 14,
        height - 3,
        left + 80,
        height - 12,
        PALETTE[1],
        left + 94,
        height - 3,
    )
    return format_html(
        '<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}{}{}</svg>',
        title,
        width,
        height,
        title,
        axis,
        mark_safe("".join(parts)),  # noqa: S308 - each part built by format_html
        legend,
    )
