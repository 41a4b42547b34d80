"""Row-level security inventory and proofs (used by `manage.py check_rls` and the tests).

"Protected" tables are the union of:

* the tables of every model that subclasses django_rls `RLSModel` with policies;
* every table in the public schema with row security switched on (a half-configured
  table shows up here even if its model forgot the policies);
* the expected list: audit_log, audit_log_archive, audit_chain_head, and the tables
  of the bookings app's RLS models (a traveller's bookings) — listed explicitly so
  that dropping RLS from the model is caught rather than silently unprotecting it.

A table fails when it is missing, lacks ENABLE or FORCE ROW LEVEL SECURITY, or has no
policy; the application role fails if it is a superuser, has BYPASSRLS or owns a
protected table; a SECURITY DEFINER function of the public schema fails if PUBLIC may
execute it (it runs with its owner's rights, so that would hand them to every role).
The proofs then run real queries as the application role under no context, a person with
no capability, team members, the booking desk, a site admin and the system, and check what
each can see (and, for public-read tables such as the capability grants, who may write).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, models, transaction

from taskforge.dbcontext import DbContext, db_context

EXPECTED_PROTECTED = ("audit_log", "audit_log_archive", "audit_chain_head")


@dataclass
class Policy:
    name: str
    command: str
    roles: str
    using: str | None
    check: str | None


@dataclass
class TableStatus:
    """One protected table as the catalog describes it."""

    table: str
    reasons: list[str]
    exists: bool = False
    enabled: bool = False
    forced: bool = False
    owner: str = ""
    policies: list[Policy] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        if not self.exists:
            return ["table does not exist"]
        found = []
        if not self.enabled:
            found.append("row level security is not ENABLEd")
        if not self.forced:
            found.append("row level security is not FORCEd (the owner would bypass it)")
        if not self.policies:
            found.append("no policy (with RLS on, nobody can see anything: or RLS was left half-configured)")
        return found


@dataclass
class Proof:
    name: str
    ok: bool
    detail: str


@dataclass
class DefinerFunction:
    """A SECURITY DEFINER function of the public schema and who may execute it."""

    signature: str  # name(argtypes), as regprocedure prints it
    owner: str
    public: bool  # executable by PUBLIC, i.e. by every role of the cluster
    app_role: bool  # executable by the application role (directly or through PUBLIC)
    grantees: list[str] = field(default_factory=list)

    @property
    def problem(self) -> str | None:
        if self.public:
            return (
                f"function {self.signature} is SECURITY DEFINER and executable by PUBLIC "
                f"(it runs as {self.owner}: REVOKE ALL ON FUNCTION ... FROM PUBLIC, grant EXECUTE to the roles that "
                "need it)"
            )
        return None


@dataclass
class RlsReport:
    tables: list[TableStatus]
    role_problems: list[str]
    proofs: list[Proof]
    functions: list[DefinerFunction] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = [f"{t.table}: {p}" for t in self.tables for p in t.problems]
        found += [f"application role: {p}" for p in self.role_problems]
        found += [f.problem for f in self.functions if f.problem]
        found += [f"proof {p.name}: {p.detail}" for p in self.proofs if not p.ok]
        return found

    @property
    def ok(self) -> bool:
        return not self.problems


def rls_models() -> list[type[models.Model]]:
    from django_rls.models import RLSModel

    return [
        model
        for model in apps.get_models()
        if issubclass(model, RLSModel) and getattr(model, "_rls_policies", None) and model._meta.managed
    ]


def protected_tables(extra: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """table -> why it is considered protected."""
    found: dict[str, list[str]] = {}

    def add(table: str, reason: str) -> None:
        found.setdefault(table, [])
        if reason not in found[table]:
            found[table].append(reason)

    for model in rls_models():
        add(model._meta.db_table, f"RLSModel {model._meta.label}")
        if model._meta.app_label == "bookings":
            add(model._meta.db_table, "expected (bookings)")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relrowsecurity"
        )
        for (table,) in cursor.fetchall():
            add(table, "row security on in the database")
    for table in (*EXPECTED_PROTECTED, *extra):
        add(table, "expected")
    return dict(sorted(found.items()))


def table_status(table: str, reasons: list[str]) -> TableStatus:
    status = TableStatus(table=table, reasons=reasons)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = %s",
            [table],
        )
        row = cursor.fetchone()
        if row is None:
            return status
        status.exists = True
        status.enabled, status.forced, status.owner = row
        cursor.execute(
            "SELECT policyname, cmd, array_to_string(roles, ','), qual, with_check FROM pg_policies "
            "WHERE schemaname = 'public' AND tablename = %s ORDER BY policyname",
            [table],
        )
        status.policies = [Policy(*policy) for policy in cursor.fetchall()]
    return status


def role_problems(role: str | None = None) -> list[str]:
    role = role or settings.DB_APP_ROLE
    problems = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        row = cursor.fetchone()
        if row is None:
            return [f"role {role} does not exist"]
        if row[0]:
            problems.append(f"{role} is a superuser")
        if row[1]:
            problems.append(f"{role} has BYPASSRLS")
        cursor.execute("SELECT current_user")
        current = cursor.fetchone()[0]
        if current != role:
            problems.append(f"connected as {current}, not as the application role {role}: the proofs must run as it")
    return problems


def definer_functions(role: str | None = None) -> list[DefinerFunction]:
    """Every SECURITY DEFINER function in the public schema, with its execute grants.

    Such a function runs with its owner's rights (the owner of the tables, which RLS
    binds only through FORCE and policies written for it), so EXECUTE on it is a grant of
    those rights: PUBLIC must never hold it.
    """
    role = role or settings.DB_APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner),
                   has_function_privilege('public', p.oid, 'EXECUTE'),
                   CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)
                        THEN has_function_privilege(%s, p.oid, 'EXECUTE') ELSE false END,
                   COALESCE((SELECT array_agg(DISTINCT g.name ORDER BY g.name)
                             FROM aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) AS a,
                                  LATERAL (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                                       ELSE pg_get_userbyid(a.grantee) END AS name) AS g
                             WHERE a.privilege_type = 'EXECUTE'), '{}')
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public' AND p.prosecdef
            ORDER BY 1
            """,
            [role, role],
        )
        rows = cursor.fetchall()
    return [DefinerFunction(sig, owner, public, app, list(grantees)) for sig, owner, public, app, grantees in rows]


def definer_function_problems() -> list[str]:
    return [f.problem for f in definer_functions() if f.problem]


# --- proofs ---------------------------------------------------------------------------


def _count(sql: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return int(cursor.fetchone()[0])


def _quote(table: str) -> str:
    return connection.ops.quote_name(table)


class _Rollback(Exception):
    """Raised to undo a proof's probe rows."""


def _ctx(role: str, user_id: str = "", tag: str = "") -> DbContext:
    return DbContext(user_id=user_id, role=role, user_agent="check_rls proof", request_id=f"check-rls-{tag or role}")


SYSTEM = "system"
USER = "user"


def _public_read(table: str) -> bool:
    """Tables whose model is readable in every context and protected for writes only
    (RLS_PUBLIC_READ = True: the capability grants, read to load the signed-in person)."""
    return any(m._meta.db_table == table and getattr(m, "RLS_PUBLIC_READ", False) for m in rls_models())


def _proof_no_context(tables: list[str]) -> list[Proof]:
    proofs = []
    with db_context(DbContext()):
        for table in tables:
            if _public_read(table):
                continue  # proved by _proof_public_read
            try:
                with transaction.atomic():  # a savepoint: one unreadable table must not end the run
                    visible = _count(f"SELECT count(*) FROM {_quote(table)}")
            except DatabaseError as exc:
                proofs.append(Proof(f"{table} without context", False, f"cannot query it: {str(exc).strip()}"))
                continue
            proofs.append(Proof(f"{table} without context", visible == 0, f"{visible} row(s) visible with no context"))
    return proofs


def _capability_holders(capability: str, *, limit: int = 2) -> list[int]:
    """Active people holding `capability` but not site_admin (read under the system context)."""
    with db_context(_ctx(SYSTEM)), connection.cursor() as cursor:
        cursor.execute(
            "SELECT g.user_id FROM accounts_capability_grant g JOIN accounts_user u ON u.id = g.user_id "
            "WHERE g.capability = %s AND u.is_active AND NOT EXISTS (SELECT 1 FROM accounts_capability_grant a "
            "WHERE a.user_id = g.user_id AND a.capability = 'site_admin') ORDER BY g.user_id LIMIT %s",
            [capability, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def _members_without(capability: str, *, limit: int = 3) -> list[tuple[int, list[int]]]:
    """(user id, team ids) of team members who hold neither `capability` nor site_admin."""
    with db_context(_ctx(SYSTEM)), connection.cursor() as cursor:
        cursor.execute(
            "SELECT m.user_id, array_agg(m.team_id) FROM accounts_membership m "
            "WHERE NOT EXISTS (SELECT 1 FROM accounts_capability_grant g WHERE g.user_id = m.user_id "
            "AND g.capability IN (%s, 'site_admin')) GROUP BY m.user_id ORDER BY m.user_id LIMIT %s",
            [capability, limit],
        )
        return [(user_id, list(team_ids)) for user_id, team_ids in cursor.fetchall()]


def _proof_audit_log() -> list[Proof]:
    """Write a probe audit row (rolled back) and check who can see it."""
    marker = f"rls-probe-{uuid.uuid4().hex}"
    results: list[Proof] = []
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT audit_record_content('rls_probe', %s, 'INSERT', NULL, '{\"probe\": true}'::jsonb)", [marker]
                )
            probe = "SELECT count(*) FROM audit_log WHERE table_name = 'rls_probe' AND record_id = %s"
            refused = [
                ("none", DbContext()),
                ("a person with no capability", _ctx(USER, "-101")),
                ("operator", _ctx("operator")),
                *[(f"booking desk {uid}", _ctx(USER, str(uid), f"desk-{uid}")) for uid in _capability_holders(
                    "booking_desk", limit=1)],
            ]  # fmt: skip
            for label, ctx in refused:
                with db_context(ctx):
                    mine, total = _count(probe, [marker]), _count("SELECT count(*) FROM audit_log")
                results.append(
                    Proof(
                        f"audit_log as {label}",
                        mine == 0 and total == 0,
                        f"sees {total} audit row(s), probe visible: {bool(mine)} (expected none)",
                    )
                )
            allowed = [("system", _ctx(SYSTEM))] + [
                (f"site admin {uid}", _ctx(USER, str(uid), f"admin-{uid}")) for uid in _site_admins(limit=1)
            ]
            for label, ctx in allowed:
                with db_context(ctx):
                    seen = _count(probe, [marker])
                results.append(Proof(f"audit_log as {label}", seen == 1, f"probe row visible: {seen} (expected 1)"))
            raise _Rollback
    except _Rollback:
        pass
    return results


def _site_admins(*, limit: int) -> list[int]:
    with db_context(_ctx(SYSTEM)), connection.cursor() as cursor:
        cursor.execute(
            "SELECT g.user_id FROM accounts_capability_grant g JOIN accounts_user u ON u.id = g.user_id "
            "WHERE g.capability = 'site_admin' AND u.is_active ORDER BY g.user_id LIMIT %s",
            [limit],
        )
        return [row[0] for row in cursor.fetchall()]


def _proof_public_read(model: type[models.Model]) -> list[Proof]:
    """A public-read table: readable with no context, writable by no one but a site admin
    or the system (each write is tried in a savepoint and rolled back)."""
    table = model._meta.db_table
    probes = [("no context", DbContext(), False), ("a person with no capability", _ctx(USER, "-107"), False)]
    probes += [(f"booking desk {uid}", _ctx(USER, str(uid)), False) for uid in _capability_holders("booking_desk")]
    probes += [("system", _ctx(SYSTEM), True)]
    proofs = []
    owner = _any_user_id()
    if owner is None:
        return [Proof(f"{table} writes", True, "no account yet: writes not exercised")]
    for label, ctx, expected in probes:
        wrote = False
        try:
            # The context outside the savepoint: a refused insert rolls the savepoint back
            # before the context is restored on the connection.
            with db_context(ctx), transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"INSERT INTO {_quote(table)} (user_id, capability, granted_at) "
                        "VALUES (%s, 'reports_reader', now()) ON CONFLICT DO NOTHING",
                        [owner],
                    )
                wrote = True
                raise _Rollback
        except _Rollback:
            pass
        except DatabaseError:
            wrote = False
        proofs.append(
            Proof(
                f"{table} insert as {label}",
                wrote == expected,
                f"insert {'accepted' if wrote else 'refused'} (expected {'accepted' if expected else 'refused'})",
            )
        )
    return proofs


def _any_user_id() -> int | None:
    with db_context(_ctx(SYSTEM)), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM accounts_user ORDER BY id LIMIT 1")
        row = cursor.fetchone()
    return row[0] if row else None


def _user_fk(model: type[models.Model]) -> models.ForeignKey | None:
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    for f in model._meta.get_fields():
        if isinstance(f, models.ForeignKey) and f.related_model is user_model and not f.null:
            return f
    return None


def _proof_owned_rows(model: type[models.Model]) -> list[Proof]:
    """Traveller-owned rows (bookings): each person sees exactly their own rows; the booking
    desk sees them all; a team member without the capability sees no one else's."""
    fk = _user_fk(model)
    table = _quote(model._meta.db_table)
    name = model._meta.db_table
    if fk is None:
        return [Proof(f"{name} ownership", False, "no non-null foreign key to the user model to prove ownership with")]
    column = connection.ops.quote_name(fk.column)
    with db_context(_ctx(SYSTEM)):
        total = _count(f"SELECT count(*) FROM {table}")
        with connection.cursor() as cursor:
            # Owners who hold neither the booking desk nor site admin (those see every row).
            cursor.execute(
                f"SELECT t.{column}, count(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM "
                f"accounts_capability_grant g WHERE g.user_id = t.{column} AND g.capability IN "
                f"('booking_desk', 'site_admin')) GROUP BY t.{column} ORDER BY count(*) DESC LIMIT 3"
            )
            owners = cursor.fetchall()
    proofs = [Proof(f"{name} as system", True, f"the system sees {total} row(s)")]
    if not owners:
        proofs.append(Proof(f"{name} as traveller", True, "no rows yet: ownership not exercised"))
        return proofs
    for owner_id, own_count in owners:
        with db_context(_ctx(USER, str(owner_id), f"owner-{owner_id}")):
            visible = _count(f"SELECT count(*) FROM {table}")
            foreign = _count(f"SELECT count(*) FROM {table} WHERE {column} <> %s", [owner_id])
        proofs.append(
            Proof(
                f"{name} as owner {owner_id}",
                visible == own_count and foreign == 0,
                f"sees {visible} row(s), owns {own_count}, other people's visible: {foreign}",
            )
        )
    with db_context(_ctx(USER, "-104", "stranger")):
        stranger = _count(f"SELECT count(*) FROM {table}")
    proofs.append(Proof(f"{name} as a person with none", stranger == 0, f"sees {stranger} row(s) (expected 0)"))
    for user_id, _teams in _members_without("booking_desk"):
        with db_context(_ctx(USER, str(user_id), f"member-{user_id}")):
            foreign = _count(f"SELECT count(*) FROM {table} WHERE {column} <> %s", [user_id])
        proofs.append(
            Proof(
                f"{name} as team member {user_id} without the booking desk",
                foreign == 0,
                f"other people's rows visible: {foreign} (expected 0)",
            )
        )
    for user_id in _capability_holders("booking_desk"):
        with db_context(_ctx(USER, str(user_id), f"desk-{user_id}")):
            seen = _count(f"SELECT count(*) FROM {table}")
        proofs.append(Proof(f"{name} as booking desk {user_id}", seen == total, f"sees {seen} of {total} row(s)"))
    return proofs


def _team_fk(model: type[models.Model]) -> models.ForeignKey | None:
    try:
        team_model = apps.get_model("accounts", "Team")
    except LookupError:
        return None
    for f in model._meta.get_fields():
        if isinstance(f, models.ForeignKey) and f.related_model is team_model:
            return f
    return None


def _proof_team_rows(model: type[models.Model]) -> list[Proof]:
    """Team-scoped rows (tasks): a team member sees only rows of their own teams."""
    fk = _team_fk(model)
    if fk is None:
        return []
    name, table, column = model._meta.db_table, _quote(model._meta.db_table), connection.ops.quote_name(fk.column)
    proofs = []
    for user_id, team_ids in _members_without("site_admin"):
        with db_context(_ctx(USER, str(user_id), f"member-{user_id}")):
            outside = _count(
                f"SELECT count(*) FROM {table} WHERE NOT ({column} = ANY(%s))",
                [list(team_ids)],
            )
        proofs.append(
            Proof(f"{name} as member {user_id}", outside == 0, f"rows of other teams visible: {outside} (expected 0)")
        )
    with db_context(_ctx(USER, "-106", "traveller-teams")):
        traveller = _count(f"SELECT count(*) FROM {table}")
    proofs.append(Proof(f"{name} as traveller", traveller == 0, f"a traveller with no team sees {traveller} row(s)"))
    return proofs


def isolation_proofs(tables: list[str]) -> list[Proof]:
    proofs = _proof_no_context(tables)
    if "audit_log" in tables:
        proofs += _proof_audit_log()
    for model in rls_models():
        if model._meta.db_table not in tables:
            continue
        if getattr(model, "RLS_PUBLIC_READ", False):
            proofs += _proof_public_read(model)
        elif model._meta.app_label == "bookings" and _user_fk(model) is not None:
            proofs += _proof_owned_rows(model)
        elif model._meta.app_label == "tasks":
            proofs += _proof_team_rows(model)
    return proofs


def rls_report(*, extra_tables: tuple[str, ...] = (), prove: bool = True) -> RlsReport:
    reasons = protected_tables(extra_tables)
    tables = [table_status(table, why) for table, why in reasons.items()]
    problems = role_problems()
    problems += [f"owns protected table {t.table}" for t in tables if t.exists and t.owner == settings.DB_APP_ROLE]
    proofs: list[Proof] = []
    existing = [t.table for t in tables if t.exists]
    if prove and not any("connected as" in p for p in problems):
        proofs = isolation_proofs(existing)
    return RlsReport(tables=tables, role_problems=problems, proofs=proofs, functions=definer_functions())


def visible_counts(tables: list[str] | None = None) -> dict[str, int]:
    """Rows of each protected table visible under the current context (Celery/command probes)."""
    names = tables or [t for t in protected_tables() if table_status(t, []).exists]
    return {table: _count(f"SELECT count(*) FROM {_quote(table)}") for table in names}
