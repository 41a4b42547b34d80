"""Profile pictures: an upload is checked, re-encoded as a small PNG thumbnail under
MEDIA_ROOT/avatars/ (named by the server), and recorded in the profile."""

from __future__ import annotations

import secrets
from io import BytesIO
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import User
from accounts.services.profile import profile_state, profile_write
from taskforge.errors import ServiceError

AVATAR_SIZE = (256, 256)
# Decoding needs width x height x 4 bytes (RGBA) and more for the conversions: 16 MP is
# about 64 MB per upload, and every camera photo fits. Checked from the header, before
# any pixel is decoded.
AVATAR_MAX_PIXELS = 16_000_000
AVATAR_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
TOO_MANY_PIXELS = "That picture has too many pixels: at most 16 megapixels (for example 4000 × 4000)."


def avatar_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "avatars"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _avatar_thumbnail(data: bytes) -> bytes:
    from PIL import Image, ImageOps, UnidentifiedImageError

    bad = ServiceError("That file is not an image we can use. Upload a JPEG, PNG, GIF or WebP picture.", field="avatar")
    too_many = ServiceError(TOO_MANY_PIXELS, field="avatar")
    try:
        with Image.open(BytesIO(data)) as probe:  # reads the header only
            if probe.format not in AVATAR_FORMATS:
                raise bad
            width, height = probe.size
            if width * height > AVATAR_MAX_PIXELS:
                raise too_many
            probe.verify()  # structure check; the image must be reopened afterwards
        with Image.open(BytesIO(data)) as image:
            # JPEG can decode at 1/2, 1/4 or 1/8 scale: ask for the smallest that still
            # covers twice the thumbnail, so a 16 MP photo costs a fraction of 64 MB.
            image.draft("RGB", (AVATAR_SIZE[0] * 2, AVATAR_SIZE[1] * 2))
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode not in ("RGB", "RGBA", "L", "LA"):  # palette, 1-bit, 16-bit: resample in colour
                image = image.convert("RGBA" if image.mode in ("P", "PA") else "RGB")
            image.thumbnail(AVATAR_SIZE, reducing_gap=2.0)  # reduce() by whole factors first, then resample
            image = image.convert("RGBA") if image.mode in ("RGBA", "LA") else image.convert("RGB")
            out = BytesIO()
            image.save(out, format="PNG", optimize=True)  # re-encoded: no metadata, no payload survives
            return out.getvalue()
    except ServiceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many from None  # past Pillow's own limit: far past ours
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise bad from None


def avatar_set(*, user: User, upload: Any) -> dict[str, Any]:
    """Check the upload is a real image within AVATAR_MAX_BYTES and store a re-encoded thumbnail."""
    limit = settings.AVATAR_MAX_BYTES
    if upload is None:
        raise ServiceError("Choose a picture to upload.", field="avatar")
    if (upload.size or 0) > limit:
        raise ServiceError(f"That picture is too large (the limit is {limit // 1024} KB).", status=413, field="avatar")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ServiceError(f"That picture is too large (the limit is {limit // 1024} KB).", status=413, field="avatar")
    thumbnail = _avatar_thumbnail(data)
    name = f"{secrets.token_hex(16)}.png"  # the server names the file, never the client
    path = avatar_dir() / name
    path.write_bytes(thumbnail)
    try:
        with transaction.atomic():
            old = profile_state(User.objects.select_for_update().get(pk=user.pk)).get("avatar") or ""
            state = profile_write(user, changes={"avatar": name})
            if old:
                transaction.on_commit(lambda: avatar_file_delete(old))
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return state


def avatar_remove(*, user: User) -> dict[str, Any]:
    with transaction.atomic():
        old = profile_state(User.objects.select_for_update().get(pk=user.pk)).get("avatar") or ""
        state = profile_write(user, changes={"avatar": ""})
        if old:
            transaction.on_commit(lambda: avatar_file_delete(old))
    return state


def avatar_file_delete(name: str) -> None:
    if name and "/" not in name and "\\" not in name and not name.startswith("."):
        (avatar_dir() / name).unlink(missing_ok=True)
