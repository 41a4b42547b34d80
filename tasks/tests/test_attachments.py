"""Attachments: size limit, type by content (not name), server-made names, permission-checked
download with the original name in Content-Disposition."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from sync.models import OutboxEvent
from taskforge.mongo import documents_collection
from taskforge.testing.personas import acting
from tasks import services
from tasks.attachments import attachment_name_clean, attachment_sniff
from tasks.models import TaskComment

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
GIF = b"GIF89a" + b"\x01\x00" * 20


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (PNG, "png"),
        (JPEG, "jpeg"),
        (GIF, "gif"),
        (PDF, "pdf"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        ("plain text, naïve café\n".encode(), "text"),
        (b"MZ\x90\x00\x03\x00\x00\x00", None),
        (b"<!DOCTYPE html><script>alert(1)</script>", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"PK\x03\x04zipzip", None),
        (b"\x00\x01\x02\x03", None),
    ],
)
def test_types_are_recognised_by_content(head: bytes, kind: str | None) -> None:
    assert attachment_sniff(head) == kind


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("report.pdf.", "report.pdf"),
        ("report.pdf . . ", "report.pdf"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("Nul.tar.gz", "_Nul.tar.gz"),
        ("aux .txt", "_aux .txt"),
        ("PRN.", "_PRN"),
        ("com1.log", "_com1.log"),
        ("COM9", "_COM9"),
        ("lpt1.txt", "_lpt1.txt"),
        ("LpT9.md", "_LpT9.md"),
        ("com\u00b9.txt", "_com\u00b9.txt"),
        ("C:\\temp\\NUL.txt", "_NUL.txt"),
        ("...", "attachment"),
        (". .", "attachment"),
        ("console.txt", "console.txt"),
        ("com10.txt", "com10.txt"),
        ("com0.txt", "com0.txt"),
        ("nullable.txt", "nullable.txt"),
        ("my con.txt", "my con.txt"),
        ("x" * 199 + ". y", "x" * 199),  # cut at 200, then the trailing dot goes
    ],
)
def test_names_lose_trailing_dots_and_spaces_and_windows_device_names(name: str, clean: str) -> None:
    assert attachment_name_clean(name) == clean


def _files_on_disk() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "attachments"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_upload_and_download_with_the_original_name(client, people, make_task) -> None:
    task = make_task()
    client.force_login(people.team_admin)
    name = 'Q3 "final" report – ü.pdf'
    response = client.post(
        reverse("tasks:attachment_upload", args=[task.id]),
        {"file": SimpleUploadedFile(name, PDF, content_type="application/x-evil")},
    )
    assert response.status_code == 302
    meta = OutboxEvent.objects.filter(aggregate_id=str(task.id)).order_by("-version").first().payload["attachments"][0]
    assert meta["name"] == name and meta["content_type"] == "application/pdf" and meta["size"] == len(PDF)
    stored = _files_on_disk()
    assert len(stored) == 1 and stored[0].name == meta["stored_name"] and name not in str(stored[0])
    assert stored[0].name.isalnum() and len(stored[0].name) == 32
    client.force_login(people.team_guest)  # guests may read, so they may download
    download = client.get(reverse("tasks:attachment_download", args=[task.id, meta["id"]]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Type"] == "application/pdf"
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=utf-8''" in disposition
    assert '"final"' not in disposition.split("filename*=")[0] if "filename=" in disposition else True
    assert download["X-Content-Type-Options"] == "nosniff"
    client.force_login(people.y_admin)
    assert client.get(reverse("tasks:attachment_download", args=[task.id, meta["id"]])).status_code == 404


def test_a_windows_device_name_is_stored_and_served_renamed(client, people, make_task) -> None:
    task = make_task()
    with acting(people.team_admin):
        meta = services.task_attachment_add(
            actor=people.team_admin, task_id=task.id, upload=SimpleUploadedFile("LPT1.txt. ", b"printer notes\n")
        )
    assert meta["name"] == "_LPT1.txt"
    client.force_login(people.team_member)
    response = client.get(reverse("tasks:attachment_download", args=[task.id, meta["id"]]))
    assert response["Content-Disposition"] == 'attachment; filename="_LPT1.txt"'


def test_ascii_names_are_quoted_safely(client, people, make_task) -> None:
    task = make_task()
    with acting(people.team_admin):
        meta = services.task_attachment_add(
            actor=people.team_admin,
            task_id=task.id,
            upload=SimpleUploadedFile('C:\\temp\\a "quoted" name.txt', b"hello\n"),
        )
    client.force_login(people.team_member)
    response = client.get(reverse("tasks:attachment_download", args=[task.id, meta["id"]]))
    assert meta["name"] == 'a "quoted" name.txt'  # no client-side path kept
    assert response["Content-Disposition"] == 'attachment; filename="a \\"quoted\\" name.txt"'


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("photo.png", b"<html><script>alert(1)</script></html>", "not accepted"),
        ("invoice.pdf", PNG, "does not match"),
        ("notes.txt", PNG, "does not match"),
        ("page.html", b"just text really", "does not match"),
        ("tool.exe", b"MZ\x90\x00binary", "not accepted"),
        # Windows drops trailing dots and spaces when saving: these would land as .exe/.html.
        ("notes.exe. ", b"echo hello", "does not match"),
        ("page.html . .", b"just text really", "does not match"),
        ("empty.txt", b"", "empty"),
    ],
)
def test_disguised_or_unknown_uploads_are_refused_and_nothing_is_kept(
    client, people, make_task, name, content, message
) -> None:
    task = make_task()
    client.force_login(people.team_admin)
    before = OutboxEvent.objects.count()
    response = client.post(
        reverse("tasks:attachment_upload", args=[task.id]),
        {"file": SimpleUploadedFile(name, content, content_type="image/png")},
    )
    assert response.status_code == 400 and message.encode() in response.content
    assert OutboxEvent.objects.count() == before and _files_on_disk() == []


def test_oversized_uploads_are_refused(client, people, make_task, settings) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1024
    task = make_task()
    client.force_login(people.team_admin)
    response = client.post(
        reverse("tasks:attachment_upload", args=[task.id]), {"file": SimpleUploadedFile("big.txt", b"a" * 1025)}
    )
    assert response.status_code == 400 and b"the limit is 1,024 bytes" in response.content
    assert _files_on_disk() == []


def test_only_editors_upload_to_a_task(client, people, member2, make_task) -> None:
    task = make_task(actor=people.team_admin)
    for user in (people.team_guest, member2):
        client.force_login(user)
        response = client.post(
            reverse("tasks:attachment_upload", args=[task.id]), {"file": SimpleUploadedFile("a.txt", b"hi")}
        )
        assert response.status_code == 403
    assert _files_on_disk() == []


def test_comment_attachments_are_downloadable_by_the_team(client, people, make_task) -> None:
    task = make_task()
    client.force_login(people.team_member)
    response = client.post(
        reverse("tasks:comment_create", args=[task.id]),
        {"body": "see the log", "file": SimpleUploadedFile("build.log", b"line 1\nline 2\n")},
    )
    assert response.status_code == 302
    doc = documents_collection(TaskComment).find_one({"task_id": str(task.id)})
    meta = doc["attachments"][0]
    client.force_login(people.team_guest)
    download = client.get(reverse("tasks:attachment_download", args=[task.id, meta["id"]]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"line 1\nline 2\n"
    assert 'filename="build.log"' in download["Content-Disposition"]
    assert client.get(reverse("tasks:attachment_download", args=[task.id, "0123456789abcdef"])).status_code == 404


def test_a_rejected_comment_upload_saves_no_comment(client, people, make_task) -> None:
    task = make_task()
    client.force_login(people.team_member)
    response = client.post(
        reverse("tasks:comment_create", args=[task.id]),
        {"body": "evil", "file": SimpleUploadedFile("x.gif", b"<script>x</script>")},
    )
    assert response.status_code == 400
    assert documents_collection(TaskComment).count_documents({}) == 0 and _files_on_disk() == []
    assert not os.environ.get("NEVER")
