"""Profiles: outbox to MongoDB, the Redis cache, the theme, avatars, and the document server going down."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from accounts.models import Profile
from accounts.selectors import _profile_key, profile_get, profile_preferences
from accounts.tests.conftest import client_for
from sync.models import OutboxEvent
from sync.relay import relay_sweep, store_pause_clear
from taskforge.dbcontext import DbContext, db_context
from taskforge.mongo import documents_collection

pytestmark = pytest.mark.django_db

PROFILE = {
    "first_name": "Ruth",
    "last_name": "Quill",
    "bio": "Walks a lot.",
    "theme": "dark",
    "notify_email": "on",
    "email_cadence": "daily",
}


@pytest.fixture
def person(make_user):
    return make_user("traveller", email="ruth@example.com", email_verified=True)


def _save(client, data=PROFILE, capture=None):
    if capture is None:
        return client.post("/accounts/profile/", data)
    with capture(execute=True):
        return client.post("/accounts/profile/", data)


def test_saving_the_profile_writes_postgres_outbox_and_mongodb(person, django_capture_on_commit_callbacks) -> None:
    client = client_for(person)
    response = _save(client, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.profile_version == 1 and person.display_name == "Ruth Quill"
    event = OutboxEvent.objects.get(aggregate_type="profile", aggregate_id=str(person.pk))
    assert event.status == "applied" and event.version == 1
    doc = documents_collection(Profile).find_one({"_id": person.pk})
    assert doc["first_name"] == "Ruth" and doc["version"] == 1 and doc["bio"] == "Walks a lot."
    assert doc["preferences"] == {
        "theme": "dark",
        "channels": {"email": True, "in_app": False},
        "email_cadence": "daily",
        "time_zone": "UTC",
    }


def test_the_profile_change_is_audited_as_content(person, django_capture_on_commit_callbacks) -> None:
    client = client_for(person)
    _save(client, capture=django_capture_on_commit_callbacks)
    _save(client, {**PROFILE, "bio": "Runs now."}, capture=django_capture_on_commit_callbacks)
    with db_context(DbContext(user_id="1", role="system")), connection.cursor() as cursor:
        cursor.execute(
            "SELECT operation, old_values->>'bio', new_values->>'bio', user_id FROM audit_log"
            " WHERE table_name = 'accounts_profile' AND record_id = %s ORDER BY id",
            [str(person.pk)],
        )
        rows = cursor.fetchall()
    assert rows == [("INSERT", None, "Walks a lot.", person.pk), ("UPDATE", "Walks a lot.", "Runs now.", person.pk)]


def test_profile_reads_are_cached_for_an_hour_and_invalidated_on_write(
    person, django_capture_on_commit_callbacks
) -> None:
    client = client_for(person)
    _save(client, capture=django_capture_on_commit_callbacks)
    first = profile_get(person.pk)
    assert first["full_name"] == "Ruth Quill"
    key = cache.make_key(_profile_key(person.pk))
    from django_redis import get_redis_connection

    ttl = get_redis_connection("default").ttl(key)
    assert 3500 < ttl <= 3600
    # a read from the cache does not touch MongoDB
    documents_collection(Profile).update_one({"_id": person.pk}, {"$set": {"bio": "changed behind our back"}})
    assert profile_get(person.pk)["bio"] == "Walks a lot."
    _save(client, {**PROFILE, "first_name": "Rita"}, capture=django_capture_on_commit_callbacks)
    assert profile_get(person.pk)["first_name"] == "Rita"


def test_profile_preferences_for_other_apps(person, django_capture_on_commit_callbacks) -> None:
    assert profile_preferences(person.pk) == {
        "theme": "system",
        "channels": {"email": True, "in_app": True},
        "time_zone": "UTC",
        "email_cadence": "immediate",
    }
    _save(client_for(person), capture=django_capture_on_commit_callbacks)
    assert profile_preferences(person.pk) == {
        "theme": "dark",
        "channels": {"email": True, "in_app": False},
        "email_cadence": "daily",
        "time_zone": "UTC",
    }


def test_the_theme_is_applied_by_the_site(person, django_capture_on_commit_callbacks) -> None:
    client = client_for(person)
    assert b'data-theme="system"' in client.get("/").content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/profile/theme/", {"theme": "dark", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert b'data-theme="dark"' in client.get("/").content
    assert b'data-theme="dark"' in client.get("/accounts/sessions/").content
    assert client.post("/accounts/profile/theme/", {"theme": "purple"}).status_code == 400
    assert b'data-theme="system"' in client_for(None).get("/").content  # anonymous visitors


def test_bad_profile_input_is_a_400_and_changes_nothing(person) -> None:
    client = client_for(person)
    assert _save(client, {**PROFILE, "theme": "neon"}).status_code == 400
    assert _save(client, {**PROFILE, "email_cadence": "yearly"}).status_code == 400
    response = _save(client, {**PROFILE, "bio": "x" * 2001})
    assert response.status_code == 400 and b"at most 2000 characters" in response.content
    person.refresh_from_db()
    assert person.profile_version == 0
    assert not OutboxEvent.objects.filter(aggregate_type="profile").exists()


def test_profile_pages_need_sign_in(client) -> None:
    assert client.get("/accounts/profile/")["Location"].startswith("/accounts/login/?next=")
    assert client.post("/accounts/profile/", PROFILE).status_code == 302


def test_a_document_server_outage_loses_no_profile_write(person, docserver, django_capture_on_commit_callbacks) -> None:
    client = client_for(person)
    docserver.stop()
    try:
        response = _save(client, capture=django_capture_on_commit_callbacks)
        assert response.status_code == 302  # PostgreSQL committed the change and its outbox event
        page = client.get("/accounts/profile/")
        assert page.status_code == 200 and b"Profile details pending" in page.content
        # a second edit builds on the first, still without the document server
        response = _save(client, {**PROFILE, "bio": "Second edit."}, capture=django_capture_on_commit_callbacks)
        assert response.status_code == 302
        assert profile_preferences(person.pk)["theme"] == "system"  # defaults while unreadable
    finally:
        docserver.start()
    from accounts.selectors import profile_breaker_reset

    profile_breaker_reset()

    store_pause_clear()  # the relay's own pause after the outage
    OutboxEvent.objects.filter(status="pending").update(next_attempt_at="2000-01-01T00:00:00Z")
    assert relay_sweep() == 2
    doc = documents_collection(Profile).find_one({"_id": person.pk})
    assert doc["version"] == 2 and doc["bio"] == "Second edit." and doc["first_name"] == "Ruth"


def _png(size: tuple[int, int] = (600, 400), mode: str = "RGB", fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color=(200, 80, 40) if mode == "RGB" else 0).save(out, format=fmt)
    return out.getvalue()


def _upload(client, data: bytes, name: str = "me.png", capture=None):
    upload = SimpleUploadedFile(name, data, content_type="image/png")
    if capture is None:
        return client.post("/accounts/profile/avatar/", {"avatar": upload})
    with capture(execute=True):
        return client.post("/accounts/profile/avatar/", {"avatar": upload})


def _avatars() -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "avatars"
    return sorted(folder.glob("*")) if folder.exists() else []


def test_an_avatar_is_checked_reencoded_as_a_thumbnail_and_served(person, django_capture_on_commit_callbacks) -> None:
    client = client_for(person)
    before = set(_avatars())
    response = _upload(
        client, _png(fmt="JPEG"), name="../../etc/passwd.png", capture=django_capture_on_commit_callbacks
    )
    assert response.status_code == 302
    new = set(_avatars()) - before
    assert len(new) == 1
    stored = new.pop()
    assert stored.parent.name == "avatars" and len(stored.stem) == 32 and stored.suffix == ".png"
    with Image.open(stored) as image:
        assert image.format == "PNG" and max(image.size) == 256
    profile = profile_get(person.pk)
    assert profile["avatar"] == stored.name
    served = client.get(profile["avatar_url"])
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert client_for(None).get(profile["avatar_url"]).status_code == 302  # sign-in needed
    assert client.get("/accounts/avatars/..%2Fsecret_key").status_code == 404
    # replacing it removes the old file
    _upload(client, _png((100, 100)), capture=django_capture_on_commit_callbacks)
    assert not stored.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/accounts/profile/avatar/delete/").status_code == 302
    assert profile_get(person.pk)["avatar"] == ""
    assert set(_avatars()) == before


def test_a_file_that_is_not_an_image_is_refused(person) -> None:
    client = client_for(person)
    before = _avatars()
    response = _upload(client, b"<?php echo 'hi'; ?>" * 10, name="shell.png")
    assert response.status_code == 400 and b"not an image we can use" in response.content
    truncated = _png()[:60]
    assert _upload(client, truncated).status_code == 400
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert _upload(client, svg, name="x.svg").status_code == 400
    person.refresh_from_db()
    assert person.profile_version == 0 and _avatars() == before


def test_an_avatar_over_the_size_limit_is_refused(person, settings) -> None:
    settings.AVATAR_MAX_BYTES = 1000
    before = _avatars()
    response = _upload(client_for(person), _png((800, 800), mode="RGB") + b"\0" * 2000)
    assert response.status_code == 413 and b"too large" in response.content
    assert _avatars() == before


def test_a_decompression_bomb_is_refused(person) -> None:
    before = _avatars()
    response = _upload(client_for(person), _png((9000, 9000), mode="L"))
    assert response.status_code == 400 and b"too many pixels" in response.content
    assert _avatars() == before


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (1-bit grey) with one tiny data chunk: the
    kind of file that costs nothing to send and gigabytes to decode."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + data + chunk(b"IEND", b"")


@pytest.mark.parametrize(("width", "height"), [(5000, 4000), (60_000, 60_000), (1, 20_000_000)])
def test_an_avatar_with_too_many_pixels_is_refused_before_decoding(person, width: int, height: int) -> None:
    """16 megapixels at most (security review finding 6): the size is checked from the header."""
    before = _avatars()
    real = width * height <= 20_000_000 and width > 1  # small enough to draw; else only the header says so
    data = _png((width, height), mode="1") if real else _png_header_only(width, height)
    assert len(data) < 200_000  # small files: the pixels, not the bytes, are the problem
    response = _upload(client_for(person), data)
    assert response.status_code == 400
    assert b"too many pixels" in response.content and b"16 megapixels" in response.content
    person.refresh_from_db()
    assert person.profile_version == 0 and _avatars() == before


def test_a_large_but_allowed_picture_still_becomes_a_thumbnail() -> None:
    from accounts.services.avatars import _avatar_thumbnail

    thumbnail = _avatar_thumbnail(_png((3000, 3000), fmt="JPEG"))
    with Image.open(io.BytesIO(thumbnail)) as image:
        assert image.size == (256, 256)


def test_an_empty_upload_is_a_400(person) -> None:
    response = client_for(person).post("/accounts/profile/avatar/", {})
    assert response.status_code == 400 and b"This field is required" in response.content


def test_profile_document_never_holds_the_email(person, django_capture_on_commit_callbacks) -> None:
    _save(client_for(person), capture=django_capture_on_commit_callbacks)
    doc = documents_collection(Profile).find_one({"_id": person.pk})
    assert person.email not in json.dumps(doc, default=str)
