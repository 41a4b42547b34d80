"""Trip images whose files are gone: every page that shows one sends the placeholder instead
(and marks each image with the placeholder as its client-side fallback)."""

from __future__ import annotations

import pytest

from bookings.images import image_dir
from bookings.tests.stored import trip_doc

pytestmark = pytest.mark.django_db

PLACEHOLDER = "/static/img/trip-placeholder.svg"


def _drop_files(code: str) -> None:
    doc = trip_doc(code)
    for rel in (doc["image"], doc["thumbnail"]):
        (image_dir() / rel.rsplit("/", 1)[-1]).unlink()


def _img_tags(html: str) -> list[str]:
    return [part.split(">", 1)[0] for part in html.split("<img")[1:]]


def test_pages_show_the_placeholder_for_missing_files(client, catalogue_editor, make_trip) -> None:
    kept, lost = make_trip(name="Kept photo"), make_trip(name="Lost photo")
    _drop_files(lost.code)
    client.force_login(catalogue_editor)

    catalogue = _img_tags(client.get("/trips/").content.decode())
    assert len(catalogue) == 2 and all(f'data-fallback="{PLACEHOLDER}"' in tag for tag in catalogue)
    assert sum(f'src="{PLACEHOLDER}"' in tag for tag in catalogue) == 1
    assert sum('src="/trips/images/' in tag for tag in catalogue) == 1

    for path in (f"/trips/{lost.code}/", f"/trips/staff/{lost.code}/edit/"):
        (tag,) = _img_tags(client.get(path).content.decode())
        assert f'src="{PLACEHOLDER}"' in tag, path
    for path in (f"/trips/{kept.code}/", f"/trips/staff/{kept.code}/edit/"):
        (tag,) = _img_tags(client.get(path).content.decode())
        assert 'src="/trips/images/' in tag and f'data-fallback="{PLACEHOLDER}"' in tag, path
    assert client.get(f"/trips/images/{trip_doc(lost.code)['image'][6:]}").status_code == 404
