"""Trip images: verified with Pillow, re-encoded (no metadata survives), thumbnailed,
stored under MEDIA_ROOT/trips/ with server-generated names."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_PIXELS = 40_000_000  # refuse decompression bombs long before Pillow's own limit
IMAGE_MAX_SIDE = 1600
THUMB_SIZE = (480, 320)
IMAGE_SUBDIR = "trips"
STORED_NAME_RE = re.compile(r"^[0-9a-f]{32}(_thumb)?\.jpg$")
PLACEHOLDER = "img/trip-placeholder.svg"  # static file shown for a missing image


class ImageRejected(ValueError):
    """The upload is not an acceptable image; the message is shown on the form."""


@dataclass(frozen=True)
class StoredImage:
    image: str  # relative to MEDIA_ROOT, e.g. "trips/<hex>.jpg"
    thumbnail: str


def image_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / IMAGE_SUBDIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_jpeg(img: Image.Image, path: Path, quality: int) -> None:
    tmp = path.with_suffix(".tmp")
    img.save(tmp, format="JPEG", quality=quality, optimize=True, progressive=True)
    os.replace(tmp, path)  # readers never see a half-written file


def _image_decode(upload: IO[bytes], *, size: int | None = None) -> Image.Image:
    """Verify an image and decode it to RGB. Raises ImageRejected with a clear message."""
    limit = settings.TRIP_IMAGE_MAX_BYTES
    if size is not None and size > limit:
        raise ImageRejected(f"The image is too large ({size // 1024} KB); the limit is {limit // 1024} KB.")
    try:
        with Image.open(upload) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise ImageRejected("Upload a JPEG, PNG or WebP image.")
            if probe.width * probe.height > MAX_PIXELS:
                raise ImageRejected("The image has too many pixels; use one under 40 megapixels.")
            probe.verify()  # structural check of the whole file
        upload.seek(0)
        with Image.open(upload) as opened:
            opened.load()
            img = ImageOps.exif_transpose(opened)
    except ImageRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("The file is not a readable image.") from exc
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        return background
    return img.convert("RGB")


def _image_write(img: Image.Image, token: str) -> StoredImage:
    """Write the image and its thumbnail under MEDIA_ROOT/trips/<token>(_thumb).jpg."""
    folder = image_dir()
    main = img.copy()
    main.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))
    thumb = ImageOps.fit(img, THUMB_SIZE)
    _write_jpeg(main, folder / f"{token}.jpg", 85)
    _write_jpeg(thumb, folder / f"{token}_thumb.jpg", 80)
    return StoredImage(image=f"{IMAGE_SUBDIR}/{token}.jpg", thumbnail=f"{IMAGE_SUBDIR}/{token}_thumb.jpg")


def trip_image_store(upload: IO[bytes], *, size: int | None = None) -> StoredImage:
    """Verify, re-encode and thumbnail an uploaded image. Raises ImageRejected with a clear message."""
    return _image_write(_image_decode(upload, size=size), secrets.token_hex(16))


def trip_image_missing(stored: StoredImage) -> bool:
    """True when the image or its thumbnail is not on disk (or a name is not one of ours)."""
    return any(trip_image_path(os.path.basename(rel or "")) is None for rel in (stored.image, stored.thumbnail))


def trip_image_restore(stored: StoredImage, upload: IO[bytes]) -> None:
    """Write `upload` back under the names a trip already refers to (its files were lost).

    The names are the trip's own, so no document or projection changes."""
    token = os.path.basename(stored.image or "").removesuffix(".jpg")
    if not STORED_NAME_RE.match(f"{token}.jpg") or stored.thumbnail != f"{IMAGE_SUBDIR}/{token}_thumb.jpg":
        raise ImageRejected("These are not stored trip image names.")
    _image_write(_image_decode(upload), token)


def trip_image_delete(stored: StoredImage) -> None:
    """Remove stored files (after a failed transaction, or once a replacement committed)."""
    for rel in (stored.image, stored.thumbnail):
        name = os.path.basename(rel or "")
        if STORED_NAME_RE.match(name):
            with contextlib.suppress(FileNotFoundError):
                (image_dir() / name).unlink()


def trip_image_path(name: str) -> Path | None:
    """Absolute path of a stored image by its file name, or None if the name is not one of ours."""
    if not STORED_NAME_RE.match(name or ""):
        return None
    path = image_dir() / name
    return path if path.is_file() else None


def trip_image_placeholder_url() -> str:
    return static(PLACEHOLDER)


def trip_image_url(rel: str | None) -> str:
    """The URL of a stored image ("trips/<hex>.jpg"), or of the placeholder when there is no
    image or its file is gone (the browser would show its broken-image icon)."""
    name = os.path.basename(rel or "")
    if trip_image_path(name) is None:
        return trip_image_placeholder_url()
    return reverse("bookings:trip_image", kwargs={"name": name})


def demo_image_bytes(seed: int, label: str = "") -> bytes:
    """A generated landscape-ish JPEG for demo and benchmark data (no network, no assets)."""
    import io

    from PIL import ImageDraw

    rng = secrets.SystemRandom() if seed < 0 else __import__("random").Random(seed)
    top = tuple(rng.randint(40, 200) for _ in range(3))
    bottom = tuple(rng.randint(120, 255) for _ in range(3))
    width, height = 960, 640
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    for y in range(height):
        t = y / height
        draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    draw.ellipse([rng.randint(50, 700), 60, rng.randint(760, 900), 220], fill=(255, 236, 170))
    if label:
        draw.text((30, height - 50), label[:40], fill=(255, 255, 255))
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()
