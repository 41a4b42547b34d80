"""Backups encrypted at rest with age (pyrage: the Python binding of rage, age in Rust).

Every data file of a backup is an age file (``postgres.dump.age``, ``<collection>.bson.age``,
...) encrypted to the public keys in BACKUP_AGE_RECIPIENTS (``age1…``); no clear copy is
ever written by a backup: pg_dump's output and the documents are encrypted as they stream.
Restores and verification decrypt with the private keys in BACKUP_AGE_IDENTITY_FILES (age
identity files, ``AGE-SECRET-KEY-1…`` lines, the format `age-keygen` and `manage.py
backup_keygen` write) into a private directory that is removed afterwards.

Key rotation: put the new recipient in BACKUP_AGE_RECIPIENTS and list the new identity
first and the old one after it in BACKUP_AGE_IDENTITY_FILES (or both in one file); new
backups use the new key, old ones still open with the old key until they age out.

Outside production, when neither variable is set, a per-checkout identity is created in
var/ (like var/secret_key), so `make run` and `make test` back up out of the box.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, BinaryIO

import pyrage
from django.conf import settings
from pyrage import x25519

AGE_SUFFIX = ".age"
SCHEME = "age-x25519"
_IDENTITY_PREFIX = "AGE-SECRET-KEY-1"


class BackupKeyError(Exception):
    """A key is missing or malformed, or no configured key opens a file (the message says which)."""


# --- keys ---------------------------------------------------------------------------------------


def parse_recipients(values: Iterable[str], *, variable: str = "BACKUP_AGE_RECIPIENTS") -> list[x25519.Recipient]:
    recipients = []
    for value in values:
        try:
            recipients.append(x25519.Recipient.from_str(value.strip()))
        except pyrage.RecipientError:
            raise BackupKeyError(f"{variable}: {value!r} is not an age public key (age1…).") from None
    return recipients


def read_identity_file(path: Path) -> list[x25519.Identity]:
    """The identities of an age identity file: one AGE-SECRET-KEY-1… per line, # comments."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise BackupKeyError(f"BACKUP_AGE_IDENTITY_FILES: {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupKeyError(f"BACKUP_AGE_IDENTITY_FILES: {path}: cannot be read ({exc})") from None
    identities = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if not line.startswith(_IDENTITY_PREFIX):
                raise pyrage.IdentityError
            identities.append(x25519.Identity.from_str(line))
        except pyrage.IdentityError:
            # Never echo the line: it may be a damaged private key.
            raise BackupKeyError(
                f"BACKUP_AGE_IDENTITY_FILES: {path} line {number} is not an age identity ({_IDENTITY_PREFIX}…)"
            ) from None
    if not identities:
        raise BackupKeyError(f"BACKUP_AGE_IDENTITY_FILES: {path} holds no age identity")
    return identities


def _local_identity() -> Path | None:
    """Dev/test with no key configured: the per-checkout identity in var/, made on first use."""
    local = settings.BACKUP_AGE_LOCAL_IDENTITY
    if local is None or settings.BACKUP_AGE_RECIPIENTS or settings.BACKUP_AGE_IDENTITY_FILES:
        return None
    ensure_local_identity(local)
    return local


def configured_identities() -> list[x25519.Identity]:
    """Every identity of BACKUP_AGE_IDENTITY_FILES, in order; raises when there is none."""
    local = _local_identity()
    paths = [local] if local is not None else settings.BACKUP_AGE_IDENTITY_FILES
    if not paths:
        raise BackupKeyError(
            "no age identity is configured to decrypt backups: set BACKUP_AGE_IDENTITY_FILES "
            "(README, Operations: backups)"
        )
    return [identity for path in paths for identity in read_identity_file(Path(path))]


def configured_recipients() -> list[x25519.Recipient]:
    local = _local_identity()
    if local is not None:
        return parse_recipients([public_key(read_identity_file(local)[0])])
    if not settings.BACKUP_AGE_RECIPIENTS:
        raise BackupKeyError(
            "backups are encrypted and no recipient is configured: set BACKUP_AGE_RECIPIENTS "
            "(README, Operations: backups)"
        )
    return parse_recipients(settings.BACKUP_AGE_RECIPIENTS)


def public_key(identity: x25519.Identity) -> str:
    return str(identity.to_public())


def identity_file_text(identity: x25519.Identity) -> str:
    """An identity file as age-keygen writes it."""
    created = datetime.now(UTC).replace(microsecond=0).isoformat()
    return f"# created: {created}\n# public key: {public_key(identity)}\n{identity}\n"


def write_identity_file(path: Path) -> str:
    """A new identity in a new file (mode 0600, never over an existing file); returns its public key."""
    identity = x25519.Identity.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(identity_file_text(identity))
    return public_key(identity)


def ensure_local_identity(path: Path) -> str:
    """Dev/test only: the per-checkout identity in var/, created on first use. Returns its public key."""
    if not path.exists():
        # Written aside and linked into place: two first starts at once keep one key, not two halves.
        spare = path.with_name(f".{path.name}.{os.getpid()}.new")
        spare.unlink(missing_ok=True)
        write_identity_file(spare)
        try:
            os.link(spare, path)
        except FileExistsError:
            pass
        finally:
            spare.unlink()
    return public_key(read_identity_file(path)[0])


def manifest_entry(recipients: list[x25519.Recipient]) -> dict[str, Any]:
    """What the manifest says about the encryption: scheme, tool, and the public keys used."""
    return {"scheme": SCHEME, "tool": f"pyrage {version('pyrage')}", "recipients": [str(r) for r in recipients]}


# --- encryption -----------------------------------------------------------------------------------


def encrypt_bytes(data: bytes, target: Path, recipients: list[x25519.Recipient]) -> None:
    target.write_bytes(pyrage.encrypt(data, recipients))


def encrypt_stream(source: BinaryIO, target: Path, recipients: list[x25519.Recipient]) -> None:
    """Encrypt everything `source` yields into `target`, in chunks (constant memory)."""
    with target.open("wb") as out:
        pyrage.encrypt_io(source, out, recipients)


class BackgroundEncryption:
    """Encrypt a pipe (pg_dump's stdout) into a file on a thread while the caller works.

    pyrage releases the GIL while it encrypts, so the caller's queries run meanwhile. The
    pipe is closed when the thread ends, so a writer never blocks on it after a failure.
    """

    def __init__(self, source: BinaryIO, target: Path, recipients: list[x25519.Recipient]) -> None:
        self.target = target
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, args=(source, recipients), name="backup-encrypt", daemon=True)
        self._thread.start()

    def _run(self, source: BinaryIO, recipients: list[x25519.Recipient]) -> None:
        try:
            encrypt_stream(source, self.target, recipients)
        except Exception as exc:  # noqa: BLE001 - reported to the caller by wait()
            self.error = f"encrypting {self.target.name} failed: {exc}"
        finally:
            source.close()

    def wait(self) -> str | None:
        """Wait for the end; the error message, or None when the file is complete."""
        self._thread.join()
        return self.error


# --- decryption -----------------------------------------------------------------------------------


def decrypt_file(
    source: Path, target: Path, identities: list[x25519.Identity], *, label: str, encrypted_to: list[str]
) -> None:
    """Decrypt `source` into `target`; any failure is a BackupKeyError naming `label` (the file in the backup)."""
    try:
        pyrage.decrypt_file(str(source), str(target), identities)
    except pyrage.DecryptError as exc:
        if "no matching keys" not in str(exc).lower():
            raise BackupKeyError(f"{label}: cannot be decrypted, the file is damaged ({exc})") from None
        have = ", ".join(public_key(identity) for identity in identities)
        raise BackupKeyError(
            f"{label}: none of the configured identities can decrypt it. The backup was encrypted to "
            f"{', '.join(encrypted_to) or 'an unrecorded key'}; BACKUP_AGE_IDENTITY_FILES holds the keys of {have}. "
            "Add the identity of that recipient (after a key rotation, keep the old identity listed)."
        ) from None
    except OSError as exc:
        raise BackupKeyError(f"{label}: cannot be decrypted, the file is damaged or truncated ({exc})") from None


@contextmanager
def decrypted_copy(path: Path, files: Iterable[str], encryption: dict[str, Any]) -> Iterator[Path]:
    """The backup's .age files decrypted, under their plain names, in a private directory
    next to the backup (0700; removed on exit; `backup_retention` removes one a crash left)."""
    identities = configured_identities()
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.decrypted-", suffix=".partial", dir=path.parent))
    try:
        for rel in files:
            if not rel.endswith(AGE_SUFFIX):
                continue
            target = scratch / rel[: -len(AGE_SUFFIX)]
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            recipients = list(encryption.get("recipients", []))
            decrypt_file(path / rel, target, identities, label=f"{path.name}/{rel}", encrypted_to=recipients)
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
