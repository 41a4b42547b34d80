"""taskforge.params: the one typed way views read the query string (issue 14, item 3)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from taskforge.params import (
    PAGE_MAX,
    BadParameter,
    choice_param,
    int_param,
    page_param,
    redirect_target,
    text_param,
)

rf = RequestFactory()


def _get(query: str):
    return rf.get("/somewhere/", QUERY_STRING=query)


@pytest.mark.parametrize(
    ("query", "page"),
    [
        ("", 1),
        ("page=3", 3),
        ("page=+3", 3),
        ("page=0", 1),
        ("page=-4", 1),
        ("page=abc", 1),
        ("page=%C2%B2", 1),  # "²": a digit to str.isdigit(), not to int()
        ("page=99999999999999999999999", PAGE_MAX),
        ("page=-99999999999999999999999", 1),
        ("page=" + "1" * 10_000, PAGE_MAX),  # int() refuses 4,300+ digits: never reached
        ("page=1e9", 1),
        ("page=%00", 1),
        ("page=2&page=5", 5),
    ],
)
def test_page_param_is_clamped_never_an_error(query: str, page: int) -> None:
    assert page_param(_get(query)) == page


def test_text_param_strips_and_refuses_nul_and_over_long_text() -> None:
    assert text_param(_get("q=%20caf%C3%A9%20"), "q") == "café"
    assert text_param(_get(""), "q") == ""
    assert text_param(_get("q=" + "x" * 200), "q") == "x" * 200
    with pytest.raises(BadParameter) as nul:
        text_param(_get("q=a%00b"), "q")
    assert nul.value.message == "The “q” parameter contains a NUL character."
    with pytest.raises(BadParameter) as long:
        text_param(_get("q=" + "x" * 201), "q")
    assert long.value.message == "The “q” parameter is too long (at most 200 characters)."


@pytest.mark.parametrize("raw", ["abc", "%C2%B2", "0", "-1", "99999999999999999999999", "1" * 10_000, "1.5"])
def test_int_param_refuses_what_is_not_an_id(raw: str) -> None:
    with pytest.raises(BadParameter, match="must be a whole number from 1 to"):
        int_param(_get(f"team={raw}"), "team")


def test_int_param_reads_an_id_or_nothing() -> None:
    assert int_param(_get("team=42"), "team") == 42
    assert int_param(_get("team=%20"), "team") is None
    assert int_param(_get(""), "team") is None
    assert int_param(_get(f"team={2**63 - 1}"), "team") == 2**63 - 1


def test_choice_param_falls_back_to_the_default() -> None:
    assert choice_param(_get("show=active"), "show", ("all", "active"), "all") == "active"
    assert choice_param(_get("show=%00"), "show", ("all", "active"), "all") == "all"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/accounts/sessions/", "/accounts/sessions/"),
        ("/tasks/?q=1", "/tasks/?q=1"),
        ("profile", "/home/"),  # redirect() would read a bare word as a URL pattern name
        ("999999999999999999999999999999", "/home/"),
        ("https://evil.example.com/", "/home/"),
        ("//evil.example.com/", "/home/"),
        ("/a\x00b", "/home/"),
        ("/a\nb", "/home/"),
        ("/" + "x" * 5000, "/home/"),
    ],
)
def test_redirect_target_stays_on_the_site(target: str, expected: str) -> None:
    request = rf.get("/accounts/login/", {"next": target})
    assert redirect_target(request, "/home/") == expected


def test_a_bad_parameter_is_a_400_page_with_its_message(client, make_user) -> None:
    """Through the site's 400 handler (here: a NUL in the task search)."""
    from accounts.models import Membership, Team

    member = make_user("member", password=None)
    Membership.objects.create(team=Team.objects.create(name="Params", slug="params"), user=member)
    client.force_login(member)
    response = client.get("/tasks/search/", {"q": "a\x00b"})
    assert response.status_code == 400
    assert "The “q” parameter contains a NUL character." in response.content.decode()
