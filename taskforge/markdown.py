"""Markdown to HTML through one reusable converter per thread and extension set.

Building a `markdown.Markdown` (loading its extensions) costs about 1 ms, more than
converting a typical comment; a task page with ten comments paid it eleven times.
A converter is not thread-safe and keeps per-document state (footnotes,
abbreviations, reference links), so each thread has its own and it is reset after
every conversion. The output is NOT safe yet: callers sanitise it (nh3) with their
own allow-list.
"""

from __future__ import annotations

import threading

import markdown

_local = threading.local()


def markdown_html(text: str, *, extensions: tuple[str, ...] = ("extra", "sane_lists")) -> str:
    converters: dict[tuple[str, ...], markdown.Markdown] | None = getattr(_local, "converters", None)
    if converters is None:
        converters = _local.converters = {}
    converter = converters.get(extensions)
    if converter is None:
        converter = converters[extensions] = markdown.Markdown(extensions=list(extensions), output_format="html")
    try:
        return converter.convert(text or "")
    finally:
        converter.reset()
