"""Trip content helpers: safe markdown, plain text for search, itinerary and keyword parsing."""

from __future__ import annotations

import html
import re
from typing import Any

import nh3
from django.utils.safestring import SafeString, mark_safe

from taskforge.markdown import markdown_html

_ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "b",
    "i",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "h2",
    "h3",
    "h4",
    "a",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def render_markdown(text: str) -> SafeString:
    """Markdown to HTML, then sanitised with an allow-list (no raw HTML, no scripts, safe links)."""
    raw = markdown_html(text)
    cleaned = nh3.clean(
        raw,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        clean_content_tags={"script", "style"},
    )
    return mark_safe(cleaned)  # noqa: S308 - sanitised by nh3 above


def markdown_to_text(text: str) -> str:
    """Plain text of a markdown description (for the search projection and snippets)."""
    raw = markdown_html(text, extensions=("extra",))
    stripped = nh3.clean(raw, tags=set(), clean_content_tags={"script", "style"})
    return re.sub(r"\s+", " ", html.unescape(stripped)).strip()


def parse_keywords(raw: str) -> list[str]:
    """'beach, Snorkelling , beach' -> ['beach', 'snorkelling'] (lower case, unique, in order)."""
    seen: list[str] = []
    for part in re.split(r"[,\n]", raw or ""):
        word = re.sub(r"\s+", " ", part).strip().lower()
        if word and word not in seen:
            seen.append(word)
    return seen


def parse_itinerary(raw: str) -> list[dict[str, Any]]:
    """One line per day, 'Title: details' (or just 'Title') -> [{'day': 1, 'title': ..., 'details': ...}]."""
    days: list[dict[str, Any]] = []
    for line in (raw or "").splitlines():
        line = line.strip()
        if not line:
            continue
        title, _, details = line.partition(":")
        days.append({"day": len(days) + 1, "title": title.strip()[:120], "details": details.strip()[:500]})
    return days


def itinerary_text(days: list[dict[str, Any]]) -> str:
    """The inverse of parse_itinerary, to prefill the edit form."""
    lines = []
    for day in days or []:
        title = str(day.get("title", ""))
        details = str(day.get("details", ""))
        lines.append(f"{title}: {details}" if details else title)
    return "\n".join(lines)
