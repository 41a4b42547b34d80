"""One typed way to read query-string parameters (used by every view that reads request.GET).

Everything in a query string is text the visitor chose, so each reader says what it accepts:

* `page_param`: a page number, clamped to 1..PAGE_MAX (garbage is page 1; a 30-digit page is
  the last page we would ever serve, never an OFFSET that overflows PostgreSQL's bigint);
* `text_param`: free text such as a search. A NUL character (PostgreSQL cannot store or
  compare it) or text over the limit is refused with `BadParameter`;
* `int_param`: an optional id, an ASCII integer within bounds (`str.isdigit()` accepts "²",
  which `int()` refuses), else `BadParameter`;
* `choice_param`: one of a fixed set, else the default;
* `redirect_target`: a "next" address that stays on this site.

`BadParameter` is Django's `BadRequest`: the site's 400 handler answers it with its message.
Forms bound to request.GET follow the same rules through their fields (CharField refuses NUL;
integer fields carry min/max bounds).
"""

from __future__ import annotations

from collections.abc import Collection

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

PAGE_MAX = 10_000
TEXT_MAX = 200
BIGINT_MAX = 2**63 - 1
NEXT_MAX = 2_000


class BadParameter(BadRequest):
    """A query parameter this site cannot use; the 400 page shows the message."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.message = f"The “{name}” parameter {problem}."
        super().__init__(self.message)


def _sign_and_digits(raw: str) -> tuple[int, str] | None:
    """An optionally signed run of ASCII digits, split; anything else is None."""
    sign, digits = (-1, raw[1:]) if raw[:1] == "-" else (1, raw[1:] if raw[:1] == "+" else raw)
    if not digits or not (digits.isascii() and digits.isdigit()):
        return None
    return sign, digits


def page_param(request: HttpRequest, name: str = "page", *, maximum: int = PAGE_MAX) -> int:
    """The page number: 1 when missing, not a number or below 1; at most `maximum`."""
    parsed = _sign_and_digits(request.GET.get(name, "").strip())
    if parsed is None or parsed[0] < 0:
        return 1
    digits = parsed[1]
    if len(digits) > len(str(maximum)):  # checked first: int() refuses 4,300+ digits
        return maximum
    return min(max(int(digits), 1), maximum)


def text_param(request: HttpRequest, name: str, *, max_length: int = TEXT_MAX, default: str = "") -> str:
    """Free text, stripped; refused when it holds a NUL character or exceeds max_length."""
    value = request.GET.get(name, default)
    if "\x00" in value:
        raise BadParameter(name, "contains a NUL character")
    value = value.strip()
    if len(value) > max_length:
        raise BadParameter(name, f"is too long (at most {max_length} characters)")
    return value


def int_param(request: HttpRequest, name: str, *, minimum: int = 1, maximum: int = BIGINT_MAX) -> int | None:
    """An optional integer (e.g. an id): None when missing or blank; refused when it is not a
    whole number from minimum to maximum."""
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    parsed = _sign_and_digits(raw)
    longest = max(len(str(abs(minimum))), len(str(abs(maximum))))
    value = parsed[0] * int(parsed[1]) if parsed is not None and len(parsed[1]) <= longest else None
    if value is None or not minimum <= value <= maximum:
        raise BadParameter(name, f"must be a whole number from {minimum} to {maximum}")
    return value


def choice_param(request: HttpRequest, name: str, choices: Collection[str], default: str) -> str:
    """One of `choices`; anything else (or nothing) is the default."""
    value = request.GET.get(name, default)
    return value if value in choices else default


def redirect_target(request: HttpRequest, default: str) -> str:
    """The "next" address (POST, then GET) if it is a path on this site, else `default`.

    Only absolute paths are taken: Django's redirect() reads a bare word as a URL pattern name
    (a reverse() that fails is a 500), and a control character has no place in a Location."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not (target.startswith("/") and len(target) <= NEXT_MAX and target.isprintable()):
        return default
    secure = request.is_secure()
    return target if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=secure) else default
