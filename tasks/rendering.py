"""Markdown to safe HTML (Markdown, then nh3 sanitising) and @mention parsing."""

from __future__ import annotations

import re
from collections.abc import Iterable

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from taskforge.markdown import markdown_html

# No images (no remote loads or tracking pixels from task text), no raw layout tags.
_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}}
_URL_SCHEMES = {"http", "https", "mailto"}

# "@kim" (the local part of a member's email) or "@kim@taskforge.local" (the whole address).
MENTION_RE = re.compile(r"(?<![\w.@])@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)")
_TEXT_SEGMENT_RE = re.compile(r"(^|>)([^<]+)")


def markdown_render(text: str, *, mentions: Iterable[str] = ()) -> SafeString:
    """Render user markdown to HTML that cannot run script, then highlight known @mentions."""
    html = markdown_html(text)
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    handles = {h.lower() for h in mentions}
    if handles:
        # Only text between tags is touched, never attribute values.
        def in_text(match: re.Match[str]) -> str:
            return match.group(1) + MENTION_RE.sub(
                lambda m: (
                    f'<span class="mention">@{escape(m.group(1))}</span>'
                    if m.group(1).lower() in handles
                    else m.group(0)
                ),
                match.group(2),
            )

        clean = _TEXT_SEGMENT_RE.sub(in_text, clean)
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 above


def mention_handles(text: str) -> list[str]:
    """The @handles written in a text, lower-cased, in order, without duplicates."""
    seen: dict[str, None] = {}
    for match in MENTION_RE.finditer(text or ""):
        seen.setdefault(match.group(1).lower().rstrip("."), None)
    return list(seen)


def member_handle(email: str) -> str:
    """The short handle of a member: the local part of their email address."""
    return email.split("@", 1)[0].lower()
