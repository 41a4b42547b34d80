"""Small server-rendered SVG charts (no JavaScript, no external package).

Every label goes through format_html, so user text (assignee names, team names) is escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from tasks.models import TaskPriority

PALETTE = ["#3559e0", "#1f8a4c", "#b7791f", "#c2303a", "#7b4bd6", "#138a9e", "#5b6478"]

# Priority as one sequential scale, Low (faint amber) to Urgent (strong red), each at
# least 3:1 against the card it sits on. The fill attribute carries the light-theme
# scale; tasks.css swaps in the dark-theme one (lighter means stronger on a dark card).
PRIORITY_COLORS = {"low": "#c27c0e", "medium": "#c2541c", "high": "#b3261e", "urgent": "#7f1d1d"}
PRIORITY_COLORS_DARK = {"low": "#a86d12", "medium": "#d9622b", "high": "#f0714f", "urgent": "#ff9e8a"}

# Text metrics in user units (the charts use 11-12 px text): a generous average advance
# per character, so a label that fits by this measure fits in the browser.
CHAR_WIDTH = 7.0


def _n(value: float) -> str:
    return f"{value:.1f}"


def fit_label(label: str, max_chars: int) -> str:
    """The label, or its start and an ellipsis when it is longer than max_chars."""
    return label if len(label) <= max_chars else label[: max(max_chars - 1, 1)].rstrip() + "…"


def bar_chart(
    items: Sequence[tuple[str, int]],
    *,
    title: str,
    width: int = 300,
    bar_height: int = 20,
    colors: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
) -> SafeString:
    """Horizontal bars, one per (label, value). The label column is as wide as the longest
    label needs, up to 40% of the chart; a longer label is shortened with an ellipsis and
    keeps its full text as a tooltip. `colors` (one per bar) default to the palette;
    `classes` name each bar for the stylesheet (e.g. the dark-theme priority scale)."""
    gap, top, value_w = 6, 4, 44
    longest = max([len(label) for label, _ in items] + [4])
    label_w = round(min(longest * CHAR_WIDTH + 12, width * 0.4))
    max_chars = max(int((label_w - 12) // CHAR_WIDTH), 4)
    height = top + len(items) * (bar_height + gap) + 4
    biggest = max([v for _, v in items] + [1])
    span = width - label_w - value_w
    rows = []
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_height + gap)
        w = round(span * value / biggest) if value else 0
        rows.append(
            (
                label_w - 8,
                _n(y + bar_height * 0.7),
                fit_label(label, max_chars),
                label,
                classes[i] if classes else "",
                label_w,
                y,
                max(w, 1 if value else 0),
                bar_height,
                colors[i] if colors else PALETTE[i % len(PALETTE)],
                label,
                value,
                label_w + w + 6,
                _n(y + bar_height * 0.7),
                value,
            )
        )
    body = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="end" class="chart-label">{}<title>{}</title></text>'
        '<rect class="chart-bar {}" x="{}" y="{}" width="{}" height="{}" rx="3" fill="{}"><title>{}: {}</title></rect>'
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


def priority_chart(items: Sequence[tuple[str, int]], *, title: str) -> SafeString:
    """Bars per priority, coloured on the Low-to-Urgent scale (items are (label, count) with
    the labels of TaskPriority, in any order)."""
    codes = {str(label): code for code, label in TaskPriority.choices}
    keys = [codes[label] for label, _ in items]
    return bar_chart(items, title=title, colors=[PRIORITY_COLORS[k] for k in keys], classes=[f"prio-{k}" for k in keys])


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
