"""The server-rendered charts read right (issue 15, item 9): priority on a Low-to-Urgent
scale that keeps its contrast in both themes, axes without repeated ticks, and long labels
shortened with their full text kept, never clipped."""

from __future__ import annotations

import re
from pathlib import Path

from reports.charts import bar_chart, column_chart, utilisation_chart
from tasks.charts import CHAR_WIDTH, PRIORITY_COLORS, PRIORITY_COLORS_DARK, priority_chart

LIGHT_CARD, DARK_CARD = "#ffffff", "#1a2030"  # --surface in static/css/site.css


def luminance(hex_color: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    channels = [int(hex_color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_priority_bars_follow_one_scale_from_low_to_urgent() -> None:
    svg = str(priority_chart([("Urgent", 1), ("High", 2), ("Medium", 3), ("Low", 4)], title="By priority"))
    fills = dict(re.findall(r'class="chart-bar prio-(\w+)"[^>]*fill="(#[0-9a-f]{6})"', svg))
    assert fills == PRIORITY_COLORS
    order = ["low", "medium", "high", "urgent"]
    light = [luminance(PRIORITY_COLORS[p]) for p in order]
    dark = [luminance(PRIORITY_COLORS_DARK[p]) for p in order]
    assert light == sorted(light, reverse=True)  # on a light card, Urgent is the darkest
    assert dark == sorted(dark)  # on a dark card, Urgent is the lightest
    for p in order:
        assert contrast(PRIORITY_COLORS[p], LIGHT_CARD) >= 3, p  # WCAG 1.4.11, graphical objects
        assert contrast(PRIORITY_COLORS_DARK[p], DARK_CARD) >= 3, p


def test_the_dark_theme_stylesheet_uses_the_dark_scale() -> None:
    css = (Path(__file__).resolve().parents[2] / "tasks/static/tasks/tasks.css").read_text()
    for p, color in PRIORITY_COLORS_DARK.items():
        assert css.count(f".chart .prio-{p} {{ fill: {color}; }}") == 2, p  # chosen dark, and system dark


def _ticks(svg: str) -> list[str]:
    return re.findall(r'<text [^>]*text-anchor="end" class="chart-axis"[^>]*>([^<]*)</text>', svg)


def test_column_chart_never_repeats_a_tick_label() -> None:
    hours = {"value_format": lambda v: f"{v:,.1f} h", "title": "Cycle time"}
    empty = str(column_chart([("03 Mar", 0.0), ("10 Mar", 0.0)], **hours))
    assert _ticks(empty) == ["0"]
    tiny = str(column_chart([("03 Mar", 0.04), ("10 Mar", 0.0)], **hours))
    ticks = _ticks(tiny)
    assert len(ticks) == len(set(ticks)) and "0.0 h" not in ticks
    normal = str(column_chart([("03 Mar", 42.0), ("10 Mar", 24.0)], **hours))
    assert _ticks(normal) == ["42.0 h", "21.0 h", "0"]


def _labels(svg: str) -> list[tuple[float, str, str]]:
    """(x of the label's end, the text shown, its tooltip) of each row label."""
    return [
        (float(x), shown, full)
        for x, shown, full in re.findall(
            r'<text x="([\d.]+)" y="[\d.]+" text-anchor="end" class="chart-label"[^>]*>([^<]*)<title>([^<]*)</title>',
            svg,
        )
    ]


def test_long_labels_are_shortened_with_a_tooltip_and_given_room() -> None:
    long_name = "Riviera di Levante and the Cinque Terre National Park Coast"
    for svg in (
        str(bar_chart([(long_name, 3), ("Alps", 2)], title="Bookings per resort", width=640)),
        str(utilisation_chart([(long_name, 3, 10), ("Alps", 1, 8)], title="Seats", width=720)),
    ):
        labels = _labels(svg)
        assert [full for _, _, full in labels] == [long_name, "Alps"]
        shown, end_x = labels[0][1], labels[0][0]
        assert shown.endswith("…") and long_name.startswith(shown[:-1])
        assert len(shown) >= 20  # room was made, not a 16-character stub
        for x, text, _ in labels:
            assert len(text) * CHAR_WIDTH <= x, text  # starts inside the chart, not clipped on the left
        assert labels[1][1] == "Alps"
        assert end_x <= (640 if "Bookings" in svg else 720) * 0.4


def test_short_labels_keep_a_compact_chart() -> None:
    svg = str(bar_chart([("To do", 1), ("Done", 2)], title="By status"))
    assert [shown for _, shown, _ in _labels(svg)] == ["To do", "Done"]
