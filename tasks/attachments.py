"""Attachment checks and storage.

* size: at most settings.ATTACHMENT_MAX_BYTES (10 MB by default);
* type: decided by the content (magic bytes), never by the name or the browser's
  Content-Type; the extension, when it names a known type, must agree with the content,
  so a disguised file ("invoice.pdf" that is really HTML, "cat.png" that is a PDF) is refused;
* storage: MEDIA_ROOT/attachments/<task id>/<random hex>, a name the server makes up;
  files are served only by tasks.views.attachment_download after a permission check.
"""

from __future__ import annotations

import os
import secrets
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

SNIFF_BYTES = 8192

# detected type -> (content type to serve, extensions that may name it)
ALLOWED_TYPES: dict[str, tuple[str, frozenset[str]]] = {
    "png": ("image/png", frozenset({".png"})),
    "jpeg": ("image/jpeg", frozenset({".jpg", ".jpeg"})),
    "gif": ("image/gif", frozenset({".gif"})),
    "webp": ("image/webp", frozenset({".webp"})),
    "pdf": ("application/pdf", frozenset({".pdf"})),
    "text": ("text/plain; charset=utf-8", frozenset({".txt", ".md", ".csv", ".log", ".json", ".yaml", ".yml"})),
}
_KNOWN_EXTENSIONS = frozenset().union(*(exts for _, exts in ALLOWED_TYPES.values()))
# Extensions of formats a browser or OS would run or render as active content.
_DANGEROUS_EXTENSIONS = frozenset({".html", ".htm", ".svg", ".xhtml", ".js", ".exe", ".bat", ".cmd", ".sh", ".php"})


class AttachmentRejected(ValueError):
    """The upload is too large, of a type we do not accept, or disguised as another type."""


@dataclass(frozen=True)
class StoredAttachment:
    id: str
    name: str
    size: int
    content_type: str
    stored_name: str

    def as_doc(self, *, uploaded_by: int, uploaded_at: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "content_type": self.content_type,
            "stored_name": self.stored_name,
            "uploaded_by": uploaded_by,
            "uploaded_at": uploaded_at,
        }


def attachment_sniff(head: bytes) -> str | None:
    """The detected type of a file from its first bytes, or None when not allowed."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if _looks_like_text(head):
        return "text"
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is fine; anything else is binary.
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    lowered = text.lstrip().lower()
    # Markup that a browser would render as a page is not "plain text".
    if lowered.startswith(("<!doctype html", "<html", "<script", "<svg", "<?xml")):
        return False
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\r\n\t\f")
    return controls <= len(text) // 100


# Windows opens these as devices, whatever the extension ("nul.txt", "Com1.tar.gz"); the
# superscript digits count too.
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{port}{n}" for port in ("COM", "LPT") for n in "123456789\u00b9\u00b2\u00b3"}
)


def attachment_name_clean(name: str) -> str:
    """A display name that is safe to save anywhere: no path, no control or format characters,
    at most 200 characters, no trailing dots or spaces (Windows drops them when saving, so
    "notes.exe." would become notes.exe) and no Windows device name such as CON or LPT1, with
    or without an extension (prefixed with "_")."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = base[:200].rstrip(". ")
    if base.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        base = f"_{base}"[:200].rstrip(". ")
    return base or "attachment"


def attachment_check(upload: Any) -> tuple[str, str]:
    """Check an UploadedFile; returns (detected type, clean display name) or raises AttachmentRejected."""
    limit = settings.ATTACHMENT_MAX_BYTES
    size = getattr(upload, "size", None) or 0
    if size <= 0:
        raise AttachmentRejected("The file is empty.")
    if size > limit:
        raise AttachmentRejected(f"The file is {size:,} bytes; the limit is {limit:,} bytes.")
    name = attachment_name_clean(getattr(upload, "name", ""))
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    kind = attachment_sniff(head)
    ext = os.path.splitext(name)[1].lower()
    if kind is None:
        raise AttachmentRejected("This type of file is not accepted (allowed: PNG, JPEG, GIF, WebP, PDF, plain text).")
    if ext in _DANGEROUS_EXTENSIONS or (ext in _KNOWN_EXTENSIONS and ext not in ALLOWED_TYPES[kind][1]):
        raise AttachmentRejected(f"The file's content ({kind.upper()}) does not match its name {name!r}.")
    return kind, name


def _root() -> Path:
    return Path(settings.MEDIA_ROOT) / "attachments"


def attachment_path(task_id: str, stored_name: str) -> Path:
    if not stored_name.isalnum():  # server-made hex names only; never a path from a document
        raise AttachmentRejected("invalid stored name")
    return _root() / str(task_id) / stored_name


def attachment_store(upload: Any, *, task_id: str) -> StoredAttachment:
    """Check and write an upload under a server-generated name. The caller records the metadata
    and calls attachment_discard() if its transaction does not commit."""
    kind, name = attachment_check(upload)
    stored_name = secrets.token_hex(16)
    target = attachment_path(str(task_id), stored_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(target, "xb") as out:
        for chunk in upload.chunks():
            written += len(chunk)
            if written > settings.ATTACHMENT_MAX_BYTES:  # the declared size lied
                out.close()
                target.unlink(missing_ok=True)
                raise AttachmentRejected("The file is larger than the limit.")
            out.write(chunk)
    return StoredAttachment(
        id=secrets.token_hex(8),
        name=name,
        size=written,
        content_type=ALLOWED_TYPES[kind][0],
        stored_name=stored_name,
    )


def attachment_discard(task_id: str, stored_name: str) -> None:
    try:
        attachment_path(str(task_id), stored_name).unlink(missing_ok=True)
    except (OSError, AttachmentRejected):
        pass


def attachments_discard_task(task_id: str) -> None:
    """Remove every stored file of a deleted task."""
    shutil.rmtree(_root() / str(task_id), ignore_errors=True)
