"""The shared, reused Markdown converter: one per thread, no state carried between texts."""

from __future__ import annotations

import threading

from taskforge.markdown import markdown_html


def test_renders_markdown_with_the_extra_extensions() -> None:
    html = markdown_html("**bold** and a table\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<strong>bold</strong>" in html
    assert "<table>" in html


def test_no_state_leaks_from_one_text_into_the_next() -> None:
    first = markdown_html("HTML is here.[^1]\n\n[^1]: A footnote.\n\n*[HTML]: Hyper Text\n\n[ref]: http://example.com/")
    assert 'class="footnote"' in first and "<abbr" in first
    second = markdown_html("HTML again, [link][ref], no footnote [^1].")
    assert "<abbr" not in second
    assert "<sup" not in second  # [^1] stays literal text: the footnote belonged to the first
    assert "http://example.com/" not in second  # the reference link of the first text is gone


def test_each_thread_has_its_own_converter() -> None:
    results: dict[int, str] = {}

    def render(i: int) -> None:
        results[i] = markdown_html(f"# Title {i}\n\nbody *{i}*")

    threads = [threading.Thread(target=render, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: f"<h1>Title {i}</h1>\n<p>body <em>{i}</em></p>" for i in range(8)}


def test_other_extension_sets_get_their_own_converter() -> None:
    text = "1. one\n1. two"
    assert markdown_html(text, extensions=("extra",)) == "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"
