"""Authorization-matrix entries for the audit app, the platform pages (taskforge) and the
Django admin. Every other app keeps its own entries in `<app>/tests/authz.py` (see
taskforge/testing/authz.py for the format).

The audit browser, and the Django admin, are for site admins. A signed-in person who is
not one gets 404 from the audit browser (the page does not exist for them) and 403 from
the admin (its own 403 page; the admin's default, a redirect to its sign-in page, sent a
signed-in person round a loop). Anonymous visitors are sent to sign in.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import RequestFactory

from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.authz import LOGIN, Route, World, capability, everyone, only

# Anonymous visitors are sent to the admin's sign-in URL (which sends them on to the site's).
ADMIN_SIGN_IN = 302
# A signed-in person who is not a site admin: the admin's 403 page.
NOT_ADMIN = 403


def _admin_site(admin_status: Any, *, anon: Any = ADMIN_SIGN_IN) -> dict[str, Any]:
    return only(admin_status, "site_admin", others=NOT_ADMIN, anon=anon)


def _admin_only(ok: int = 200) -> dict[str, Any]:
    return capability("site_admin", ok)


def make_objects(world: World) -> dict[str, Any]:
    from audit.models import AuditLog

    with db_context(context_for_system("authz matrix audit objects")):
        entry = AuditLog.objects.filter(table_name="accounts_user").order_by("-id").first()
        first_rows = {}
        for model in admin.site._registry:
            pk = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
            first_rows[model._meta.label_lower] = pk
    return {"audit_entry": entry, "admin_first_pk": first_rows}


MATRIX: dict[str, Route | list[Route]] = {
    # --- platform pages ------------------------------------------------------------
    "home": Route(GET=everyone(200)),
    "healthz": Route(GET=everyone(200), POST=everyone(405)),
    "readyz": Route(GET=everyone(200), POST=everyone(405)),
    # Prometheus metrics: never for the public internet (loopback or a bearer token only).
    # From the machine itself (the scraper) it answers anyone: the allowed side.
    "metrics": [
        Route(GET=everyone(404), extra={"REMOTE_ADDR": "203.0.113.50"}),
        Route(label="loopback", GET=everyone(200), extra={"REMOTE_ADDR": "127.0.0.1"}),
    ],
    # --- audit browser ---------------------------------------------------------------
    "audit:browser": Route(GET=_admin_only(200), POST=everyone(405)),
    "audit:entry": Route(
        kwargs=lambda w: {"entry_id": w.objects["audit_entry"].pk},
        GET=_admin_only(200),
        POST=everyone(405),
    ),
    "audit:history": Route(
        kwargs=lambda w: {"table": "accounts_user", "record_id": w.users["traveller"].pk},
        GET=_admin_only(200),
        POST=everyone(405),
    ),
    # --- Django admin: site-wide pages -------------------------------------------------
    "admin:index": Route(GET=_admin_site(200)),
    # The admin's own sign-in page is replaced by the site's (accounts): anonymous visitors
    # are sent there, an admin who is already in goes on to the index, and anyone else
    # signed in gets the 403 page (it used to send them round a redirect loop).
    "admin:login": Route(GET=_admin_site(302, anon=LOGIN)),
    # Sign-out is POST only (a GET by an admin is refused).
    "admin:logout": Route(GET=_admin_site(405)),
    "admin:password_change": Route(GET=_admin_site(200)),
    "admin:password_change_done": Route(GET=_admin_site(200)),
    "admin:jsi18n": Route(GET=_admin_site(200)),
    # Autocomplete without its parameters is refused even to an admin.
    "admin:autocomplete": Route(GET=_admin_site(403), allow_403=True),
    # accounts.User has no public page to go to.
    "admin:view_on_site": Route(
        kwargs=lambda w: {
            "content_type_id": ContentType.objects.get_for_model(w.users["site_admin"]).pk,
            "object_id": w.users["site_admin"].pk,
        },
        GET=_admin_site(404),
        allow_403=True,
    ),
    # accounts' user admin (Django's UserAdmin) adds a password page per user.
    "admin:auth_user_password_change": Route(
        kwargs=lambda w: {"id": w.users["traveller"].pk}, GET=_admin_site(200), allow_403=True
    ),
    "admin:app_list": Route(kwargs=lambda w: {"app_label": "audit"}, GET=_admin_site(200), allow_403=True),
    "admin/(?P<url>.*)$": Route(path=lambda w: "/admin/no-such-page/", GET=_admin_site(404), allow_403=True),
    # --- the audit log in the admin: read-only ---------------------------------------------
    "admin:audit_auditlog_changelist": Route(GET=_admin_site(200), POST=_admin_site(200)),
    "admin:audit_auditlog_add": Route(GET=_admin_site(403), POST=_admin_site(403), allow_403=True),
    "admin:audit_auditlog_change": Route(
        kwargs=lambda w: {"object_id": w.objects["audit_entry"].pk},
        GET=_admin_site(200),
        POST=_admin_site(403),
        data=lambda w: {"operation": "FORGED"},
        allow_403=True,
    ),
    "admin:audit_auditlog_delete": Route(
        kwargs=lambda w: {"object_id": w.objects["audit_entry"].pk},
        GET=_admin_site(403),
        POST=_admin_site(403),
        data=lambda w: {"post": "yes"},
        allow_403=True,
    ),
    "admin:audit_auditlog_history": Route(
        kwargs=lambda w: {"object_id": w.objects["audit_entry"].pk},
        GET=_admin_site(200),
        allow_403=True,
    ),
}


# --- Django admin: every registered model, generically ------------------------------------
# Non-admins never get past the admin's door (403); what the admin gets follows the model
# admin's declared permissions (read-only logs answer 403 to add/change/delete) and
# whether a row exists (a missing object sends the admin back to the index: 302).


def _model_admin_routes(model: Any, model_admin: admin.ModelAdmin) -> dict[str, Route]:
    label, info = model._meta.label_lower, f"{model._meta.app_label}_{model._meta.model_name}"

    def can(permission: str) -> bool:
        def check(w: World) -> bool:
            request = RequestFactory().get("/admin/")
            request.user = w.users["site_admin"]
            return bool(getattr(model_admin, f"has_{permission}_permission")(request))

        return check  # type: ignore[return-value]

    def pk(w: World) -> Any:
        return w.objects["admin_first_pk"].get(label)

    def object_status(permission: str, *, existence_first: bool = False) -> Any:
        # Django checks the permission before looking the object up, except on the history page.
        def status(w: World) -> int:
            if existence_first and pk(w) is None:
                return 302
            if not can(permission)(w):
                return 403
            return 302 if pk(w) is None else 200  # no such object: back to the admin index

        return status

    def object_kwargs(w: World) -> dict[str, Any]:
        return {"object_id": pk(w) if pk(w) is not None else "0"}

    view = object_status("view")
    return {
        f"admin:{info}_changelist": Route(
            GET=_admin_site(lambda w: 200 if can("view")(w) else 403),
            allow_403=True,
        ),
        f"admin:{info}_add": Route(GET=_admin_site(lambda w: 200 if can("add")(w) else 403), allow_403=True),
        f"admin:{info}_change": Route(kwargs=object_kwargs, GET=_admin_site(view), allow_403=True),
        f"admin:{info}_history": Route(
            kwargs=object_kwargs,
            GET=_admin_site(object_status("view", existence_first=True)),
            allow_403=True,
        ),
        f"admin:{info}_delete": Route(
            kwargs=object_kwargs,
            GET=_admin_site(object_status("delete")),
            allow_403=True,
        ),
        # The bare object URL redirects to its change page (for everyone let in).
        f"admin/{model._meta.app_label}/{model._meta.model_name}/<path:object_id>/": Route(
            kwargs=object_kwargs,
            path=lambda w: f"/admin/{model._meta.app_label}/{model._meta.model_name}/{object_kwargs(w)['object_id']}/",
            GET=_admin_site(302),
            allow_403=True,
        ),
    }


for _model, _model_admin in admin.site._registry.items():
    for _key, _route in _model_admin_routes(_model, _model_admin).items():
        MATRIX.setdefault(_key, _route)  # the explicit entries above win
