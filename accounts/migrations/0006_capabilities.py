"""Site capabilities replace the global site role (issue: joining any team made a person staff).

Before: `accounts_user.role` was traveller, staff or admin, and every staff account (anyone
who had accepted any team invitation, even as a guest) could see every booking, edit the
catalogue and read the revenue reports. After: explicit grants in
`accounts_capability_grant`, made by a site admin; team memberships are untouched and give
no site-wide power.

How accounts move over, without widening anyone's access:

* role "admin"  -> the site_admin capability (what they had);
* role "staff"  -> team_creator if they are admin of at least one team (they could create
  teams before); nothing else. Booking desk, catalogue editor and reports reader must be
  granted again, explicitly, by a site admin on the People page;
* role "traveller" -> nothing (as before);
* the Django-admin flags (is_staff / is_superuser) are dropped: the admin follows the
  site_admin capability. An account that had the flags without the admin role loses admin
  access, and is listed.

The migration prints one line per account it changed, and a summary.

Row-level security: the context role is now "user" for a person and "system" for trusted
background work (it was "admin" for both site admins and the system). The SQL function
`rls_ctx_has_capability` looks a person's capabilities up in the grant table, so policies
follow the grants, not anything the application claims. The privileged functions of
accounts 0005 and tasks 0002 are re-created with the new checks.
"""

import importlib

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

CAPABILITY_FUNCTION = r"""
CREATE OR REPLACE FUNCTION rls_ctx_has_capability(p_capability text)
RETURNS boolean LANGUAGE sql STABLE
SET search_path = public, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1
        FROM accounts_capability_grant g
        JOIN accounts_user u ON u.id = g.user_id AND u.is_active
        WHERE g.user_id = NULLIF(current_setting('rls.user_id', true), '')::bigint
          AND g.capability IN (p_capability, 'site_admin')
    )
$$;
"""
DROP_CAPABILITY_FUNCTION = "DROP FUNCTION IF EXISTS rls_ctx_has_capability(text);"

OLD_ADMIN_CHECK = "current_setting('rls.role', true) = 'admin'"
NEW_ADMIN_CHECK = "rls_ctx_has_capability('site_admin') OR current_setting('rls.role', true) = 'system'"


def _statements(module: str, name: str, old: str, new: str) -> list[str]:
    """The statements of an earlier migration's SQL that contain `old`, with `new` in its place."""
    text = getattr(importlib.import_module(module), name)
    if old not in text:
        raise RuntimeError(f"{module}.{name} no longer contains {old!r}")
    return [part.strip().replace(old, new) for part in text.split("-- ;;") if old in part]


def _subject_functions(old: str, new: str) -> list[str]:
    return _statements("accounts.migrations.0005_audit_subject_by_id", "FUNCTIONS", old, new)


def _history_function(old: str, new: str) -> list[str]:
    return _statements("tasks.migrations.0002_member_fk_history", "HISTORY_FUNCTION", old, new)


def forward_functions(apps, schema_editor):  # noqa: ANN001, ANN201
    with schema_editor.connection.cursor() as cursor:
        for sql in _subject_functions(OLD_ADMIN_CHECK, NEW_ADMIN_CHECK):
            cursor.execute(sql)
        for sql in _history_function("'rls.role', 'admin'", "'rls.role', 'system'"):
            cursor.execute(sql)


def backward_functions(apps, schema_editor):  # noqa: ANN001, ANN201
    with schema_editor.connection.cursor() as cursor:
        for sql in _subject_functions(OLD_ADMIN_CHECK, OLD_ADMIN_CHECK):
            cursor.execute(sql)
        for sql in _history_function("'rls.role', 'admin'", "'rls.role', 'admin'"):
            cursor.execute(sql)


def move_roles_to_capabilities(apps, schema_editor):  # noqa: ANN001, ANN201
    User = apps.get_model("accounts", "User")
    Membership = apps.get_model("accounts", "Membership")
    CapabilityGrant = apps.get_model("accounts", "CapabilityGrant")
    lines: list[str] = []
    counts = {"site_admin": 0, "team_creator": 0, "staff_narrowed": 0, "admin_flags_dropped": 0}
    team_admins = set(Membership.objects.filter(role="admin").values_list("user_id", flat=True))
    for user in User.objects.exclude(role="traveller", is_staff=False, is_superuser=False).order_by("id"):
        if user.role == "admin":
            CapabilityGrant.objects.get_or_create(user=user, capability="site_admin")
            counts["site_admin"] += 1
            lines.append(f"  {user.email}: site admin -> site_admin capability (unchanged access)")
            continue
        if user.role == "staff":
            counts["staff_narrowed"] += 1
            kept = "team memberships kept"
            if user.pk in team_admins:
                CapabilityGrant.objects.get_or_create(user=user, capability="team_creator")
                counts["team_creator"] += 1
                kept += "; team_creator granted (admin of a team)"
            lines.append(
                f"  {user.email}: staff -> {kept}; booking desk, catalogue editor and reports reader "
                "REMOVED (grant them on the People page if this person needs them)"
            )
        if user.is_staff or user.is_superuser:
            counts["admin_flags_dropped"] += 1
            lines.append(f"  {user.email}: Django admin flags without the admin role dropped (no admin access)")
    if lines:
        print("\n[accounts 0006] site roles moved to capabilities:")  # noqa: T201 - the migration says what it did
        print("\n".join(lines))  # noqa: T201
        print(  # noqa: T201
            f"  {counts['site_admin']} site admin(s) kept; {counts['staff_narrowed']} staff account(s) narrowed "
            f"({counts['team_creator']} keep team creation); {counts['admin_flags_dropped']} admin flag(s) dropped."
        )


def capabilities_to_roles(apps, schema_editor):  # noqa: ANN001, ANN201
    User = apps.get_model("accounts", "User")
    CapabilityGrant = apps.get_model("accounts", "CapabilityGrant")
    admins = CapabilityGrant.objects.filter(capability="site_admin").values_list("user_id", flat=True)
    User.objects.filter(pk__in=list(admins)).update(role="admin", is_staff=True, is_superuser=True)
    others = CapabilityGrant.objects.exclude(user_id__in=list(admins)).values_list("user_id", flat=True)
    User.objects.filter(pk__in=list(others)).update(role="staff")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_audit_subject_by_id"),
        ("tasks", "0004_history_function_grants"),
    ]

    operations = [
        migrations.CreateModel(
            name="CapabilityGrant",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "capability",
                    models.CharField(
                        choices=[
                            ("booking_desk", "Booking desk"),
                            ("catalogue_editor", "Catalogue editor"),
                            ("reports_reader", "Reports reader"),
                            ("team_creator", "Team creator"),
                            ("site_admin", "Site admin"),
                        ],
                        max_length=32,
                    ),
                ),
                ("granted_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "granted_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="capability_grants",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "accounts_capability_grant",
                "ordering": ["user_id", "capability"],
                "constraints": [
                    models.UniqueConstraint(fields=("user", "capability"), name="accounts_capability_grant_unique"),
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "capability__in",
                                ["booking_desk", "catalogue_editor", "reports_reader", "team_creator", "site_admin"],
                            )
                        ),
                        name="accounts_capability_grant_valid",
                    ),
                ],
            },
        ),
        migrations.RunSQL(CAPABILITY_FUNCTION, DROP_CAPABILITY_FUNCTION),
        migrations.RunPython(forward_functions, backward_functions),
        migrations.RunPython(move_roles_to_capabilities, capabilities_to_roles),
        migrations.RemoveConstraint(model_name="user", name="accounts_user_role_valid"),
        migrations.RemoveField(model_name="user", name="role"),
        migrations.RemoveField(model_name="user", name="is_staff"),
        migrations.RemoveField(model_name="user", name="is_superuser"),
        migrations.RemoveField(model_name="user", name="groups"),
        migrations.RemoveField(model_name="user", name="user_permissions"),
    ]
