"""Catalogue list (filters, sort, pagination) and search (ranked, highlighted, typo-tolerant)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from bookings.selectors import PER_PAGE, CatalogueFilters, catalogue_page

pytestmark = pytest.mark.django_db


def _codes(response) -> list[str]:
    return re.findall(r'data-trip="([^"]+)"', response.content.decode())


@pytest.fixture
def catalogue(make_trip):
    today = timezone.localdate()
    make_trip(
        code="MAL-1",
        name="Maldives Overwater Villa",
        resort="Maldives",
        price_minor=420_000,
        start=today + dt.timedelta(days=90),
        length_days=8,
        keywords=["snorkelling", "honeymoon"],
        description_md="Crystal lagoons and house reef snorkelling.",
    )
    make_trip(
        code="MAL-2",
        name="Island Hopping Week",
        resort="Maldives",
        price_minor=190_000,
        start=today + dt.timedelta(days=30),
        length_days=10,
        keywords=["islands", "boat"],
        description_md="Hop between islands by speedboat.",
    )
    make_trip(
        code="BAL-1",
        name="Bali Surf Camp",
        resort="Bali",
        price_minor=70_000,
        start=today + dt.timedelta(days=60),
        length_days=7,
        keywords=["surf"],
        description_md="Learn to surf; evenings in Maldives-style beach bars.",
    )
    make_trip(
        code="ALP-1",
        name="Alpine Ski Week",
        resort="Swiss Alps",
        price_minor=240_000,
        start=today + dt.timedelta(days=120),
        length_days=7,
        keywords=["ski", "snow"],
        description_md="Powder days & <b>fondue</b> nights.",
    )


def test_list_sorts_and_filters(client, catalogue) -> None:
    assert _codes(client.get("/trips/")) == ["MAL-2", "BAL-1", "MAL-1", "ALP-1"]  # soonest first
    assert _codes(client.get("/trips/?sort=price")) == ["BAL-1", "MAL-2", "ALP-1", "MAL-1"]
    assert _codes(client.get("/trips/?sort=price_desc"))[0] == "MAL-1"
    assert _codes(client.get("/trips/?sort=name")) == ["ALP-1", "BAL-1", "MAL-2", "MAL-1"]
    assert _codes(client.get("/trips/?resort=Maldives")) == ["MAL-2", "MAL-1"]
    assert _codes(client.get("/trips/?price_range=luxury")) == ["MAL-1"]
    assert _codes(client.get("/trips/?price_range=budget")) == ["BAL-1"]
    assert _codes(client.get("/trips/?price_min=1000&price_max=2500")) == ["MAL-2", "ALP-1"]
    assert _codes(client.get("/trips/?length_min=8")) == ["MAL-2", "MAL-1"]
    today = timezone.localdate()
    start_from, start_to = today + dt.timedelta(days=50), today + dt.timedelta(days=100)
    window = f"start_from={start_from.isoformat()}&start_to={start_to.isoformat()}"
    assert _codes(client.get(f"/trips/?{window}")) == ["BAL-1", "MAL-1"]


@pytest.mark.parametrize(
    "query",
    [
        "price_min=abc",
        "start_from=31-31-2020",
        "length_min=0",
        "sort=cheapest",
        "price_min=5&price_max=1",
        "price_range=free",
        "page=0",
        "price_max=10.001",
    ],
)
def test_bad_filters_answer_400_with_a_message(client, catalogue, query) -> None:
    response = client.get(f"/trips/?{query}")
    assert response.status_code == 400
    assert "Some filters need fixing" in response.content.decode()


def test_pagination(make_trip) -> None:
    for i in range(PER_PAGE + 3):
        make_trip(code=f"PG-{i:02d}", start=timezone.localdate() + dt.timedelta(days=10 + i))
    first = catalogue_page(CatalogueFilters(), 1)
    second = catalogue_page(CatalogueFilters(), 2)
    assert len(first.items) == PER_PAGE and first.has_next and not first.has_previous
    assert [i.code for i in second.items] == ["PG-20", "PG-21", "PG-22"] and not second.has_next
    assert first.total == PER_PAGE + 3


def test_search_ranks_name_and_resort_above_description(client, catalogue) -> None:
    response = client.get("/trips/?q=maldives")
    codes = _codes(response)
    assert codes[:2] == ["MAL-1", "MAL-2"] or codes[:2] == ["MAL-2", "MAL-1"]
    assert codes[-1] == "BAL-1"  # matched only in the description (weight C)
    html = response.content.decode()
    assert "<mark>Maldives</mark>" in html
    assert "best matches first" in html


def test_search_snippets_are_escaped(client, catalogue) -> None:
    html = client.get("/trips/?q=fondue").content.decode()
    assert _codes_from(html) == ["ALP-1"]
    assert "<b>fondue</b>" not in html  # description HTML never reaches the page raw
    assert "<mark>fondue</mark>" in html


def _codes_from(html: str) -> list[str]:
    return re.findall(r'data-trip="([^"]+)"', html)


@pytest.mark.parametrize("typo", ["maldivs", "maldeves", "MALDIEVS", "snorkeling"])
def test_typos_still_find_the_trip(client, catalogue, typo) -> None:
    codes = _codes(client.get(f"/trips/?q={typo}"))
    assert "MAL-1" in codes


def test_typo_fallback_is_announced_and_highlighted(client, catalogue) -> None:
    html = client.get("/trips/?q=maldeves").content.decode()
    assert "No exact matches for “maldeves”; showing results for “maldives”." in html
    assert "<mark>Maldives</mark>" in html
    both = client.get("/trips/?q=maldives+fondue").content.decode()  # each word exists, never together
    assert "(any of the words)" in both and "MAL-1" in both and "ALP-1" in both


def test_search_combines_with_filters_and_finds_nothing_cleanly(client, catalogue) -> None:
    assert _codes(client.get("/trips/?q=maldives&price_range=luxury")) == ["MAL-1"]
    response = client.get("/trips/?q=zzqxw")
    assert response.status_code == 200 and _codes(response) == [] and "No trips match" in response.content.decode()


def test_htmx_gets_the_results_partial(client, catalogue) -> None:
    response = client.get("/trips/?q=bali", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.content.decode() and _codes(response) == ["BAL-1"]


def test_broad_searches_rank_a_bounded_pool_that_keeps_name_matches(make_trip, monkeypatch) -> None:
    from bookings import selectors

    for i in range(6):  # "reef" only in the description (weight C)
        make_trip(code=f"DESC-{i}", name=f"Quiet week {i}", description_md="Snorkel the reef every day.")
    make_trip(code="NAME-1", name="Reef Explorer", description_md="Boats and beaches.")
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)  # 7 matches: "more than the cap" -> bounded ranking
    monkeypatch.setattr(selectors, "RANK_POOL", 2)
    result = selectors.catalogue_page(selectors.CatalogueFilters(q="reef"), 1)
    assert result.total_capped and result.mode == "search"
    codes = [item.code for item in result.items]
    assert codes[0] == "NAME-1"  # the name match is in the strong pool and ranks first
    assert len(codes) == 3  # at most 2 pools of 2, minus the duplicate
    assert "<mark>Reef</mark>" in str(result.items[0].name_html)


def test_filter_form_echoes_the_query_without_failed_template_lookups(client, catalogue, monkeypatch) -> None:
    """The form reads every filter from a plain dict: looking a missing key up in the
    QueryDict cost the template engine two exceptions and a dir() per resort <option>."""
    from django.template import base

    failed: list[str] = []
    real = base.Variable._resolve_lookup

    def counting(self, context):
        try:
            return real(self, context)
        except base.VariableDoesNotExist:
            failed.append(self.var)
            raise

    monkeypatch.setattr(base.Variable, "_resolve_lookup", counting)
    html = client.get("/trips/", {"resort": "Maldives", "sort": "price", "price_max": "5000"}).content.decode()
    assert '<option value="Maldives" selected>' in html
    assert '<option value="price" selected>' in html
    assert 'name="price_max" id="id_price_max" min="0" step="0.01" value="5000"' in html
    assert [v for v in failed if v.startswith("f.")] == []
    client.get("/trips/")  # no filters at all
    assert [v for v in failed if v.startswith("f.")] == []
