"""Authorization-matrix entries for the audit app, the platform pages (taskforge) and the
Django admin. Every other app keeps its own entries in `<app>/tests/authz.py` (see
audit/authz.py for the format)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import RequestFactory

from audit.authz import Route, World, admin_only, everyone, statuses
from taskforge.dbcontext import DbContext, db_context

# Anyone who is not a site admin is sent to the admin's sign-in page.
NOT_ADMIN = 302


def _admin_site(admin_status: Any, *, anon: Any = NOT_ADMIN) -> dict[str, Any]:
    return statuses(
        anon=anon,
        traveller_a=NOT_ADMIN,
        traveller_b=NOT_ADMIN,
        staff_x=NOT_ADMIN,
        staff_y=NOT_ADMIN,
        admin=admin_status,
    )


def make_objects(world: World) -> dict[str, Any]:
    from audit.models import AuditLog

    with db_context(DbContext(user_id=str(world.users["admin"].pk), role="system")):
        entry = AuditLog.objects.filter(table_name="accounts_user").order_by("-id").first()
        first_rows = {}
        for model in admin.site._registry:
            pk = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
            first_rows[model._meta.label_lower] = pk
    return {"audit_entry": entry, "admin_first_pk": first_rows}


MATRIX: dict[str, Route] = {
    # --- platform pages ------------------------------------------------------------
    "home": Route(GET=everyone(200)),
    "healthz": Route(GET=everyone(200), POST=everyone(405)),
    "readyz": Route(GET=everyone(200), POST=everyone(405)),
    # Prometheus metrics: never for the public internet (loopback or a bearer token only).
    "metrics": Route(GET=everyone(404), extra={"REMOTE_ADDR": "203.0.113.50"}),
    # --- audit browser ---------------------------------------------------------------
    "audit:browser": Route(GET=admin_only(200), POST=everyone(405)),
    "audit:entry": Route(
        kwargs=lambda w: {"entry_id": w.objects["audit_entry"].pk},
        GET=admin_only(200),
        POST=everyone(405),
    ),
    "audit:history": Route(
        kwargs=lambda w: {"table": "accounts_user", "record_id": w.users["traveller_a"].pk},
        GET=admin_only(200),
        POST=everyone(405),
    ),
    # --- Django admin: site-wide pages -------------------------------------------------
    "admin:index": Route(GET=_admin_site(200)),
    # The admin's own sign-in page is replaced by the site's (accounts): everyone is sent
    # there, and an admin who is already in goes on to the index.
    "admin:login": Route(GET=everyone(302)),
    # Sign-out is POST only (a GET by an admin is refused); non-admins are sent to the index.
    "admin:logout": Route(GET=_admin_site(405)),
    "admin:password_change": Route(GET=_admin_site(200)),
    "admin:password_change_done": Route(GET=_admin_site(200)),
    "admin:jsi18n": Route(GET=_admin_site(200)),
    # Autocomplete without its parameters is refused even to an admin.
    "admin:autocomplete": Route(GET=_admin_site(403), allow_403=True),
    # accounts.User has no public page to go to.
    "admin:view_on_site": Route(
        kwargs=lambda w: {
            "content_type_id": ContentType.objects.get_for_model(w.users["admin"]).pk,
            "object_id": w.users["admin"].pk,
        },
        GET=_admin_site(404),
    ),
    # accounts' user admin (Django's UserAdmin) adds a password page per user.
    "admin:auth_user_password_change": Route(kwargs=lambda w: {"id": w.users["traveller_a"].pk}, GET=_admin_site(200)),
    "admin:app_list": Route(kwargs=lambda w: {"app_label": "audit"}, GET=_admin_site(200)),
    "admin/(?P<url>.*)$": Route(path=lambda w: "/admin/no-such-page/", GET=_admin_site(404)),
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
    ),
}


# --- Django admin: every registered model, generically ------------------------------------
# Non-admins never get past the admin's sign-in; what the admin gets follows the model
# admin's declared permissions (read-only logs answer 403 to add/change/delete) and
# whether a row exists (a missing object sends the admin back to the index: 302).


def _model_admin_routes(model: Any, model_admin: admin.ModelAdmin) -> dict[str, Route]:
    label, info = model._meta.label_lower, f"{model._meta.app_label}_{model._meta.model_name}"

    def can(permission: str) -> bool:
        def check(w: World) -> bool:
            request = RequestFactory().get("/admin/")
            request.user = w.users["admin"]
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
        ),
    }


for _model, _model_admin in admin.site._registry.items():
    for _key, _route in _model_admin_routes(_model, _model_admin).items():
        MATRIX.setdefault(_key, _route)  # the explicit entries above win
