"""The audit log: written only by PostgreSQL triggers and SECURITY DEFINER functions.

Three tables, all under row-level security (ENABLE + FORCE):

* `audit_log` — the live log. Triggers insert; the sealer (`audit_seal()`) adds each
  row's place in the hash chain (`seal_seq`) and its hash (`row_hash`).
* `audit_log_archive` — sealed rows older than AUDIT_RETENTION_DAYS, moved there by
  `audit_archive()`; always a prefix of the chain, so archive + live verify as one.
* `audit_chain_head` — one row: the last sealed position and hash, so a deleted tail
  is detected too.

The application role may only SELECT these tables (audit/schema.py revokes the rest),
and RLS shows rows to admins only. The table owner has a maintenance policy: the
SECURITY DEFINER functions run as the owner, and the owner is subject to FORCE RLS.
That same owner can of course tamper with rows — which is what the hash chain and
`manage.py verify_audit` are for.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now
from django_rls.models import RLSModel
from django_rls.policies import CustomPolicy

from taskforge.rls import CTX_IS_ADMIN, InsertPolicy, SelectPolicy


def table_owner_expr(table: str) -> str:
    """SQL that is true only for the role owning `table` (the migration/maintenance role)."""
    return (
        "current_user = pg_catalog.pg_get_userbyid((SELECT c.relowner FROM pg_catalog.pg_class c "
        f"WHERE c.oid = 'public.{table}'::regclass))"
    )


class AuditLog(RLSModel):
    """One row per changed row (or content document), with who, where and what changed.

    The application role may only SELECT (and RLS lets admins alone see rows); the
    rows are inserted by the audit triggers, which run as the owner role. `seal_seq`
    and `row_hash` are filled in by the sealer a few seconds later (audit/chain.py).
    """

    table_name = models.CharField(max_length=128)
    record_id = models.CharField(max_length=128)
    operation = models.CharField(max_length=16)
    old_values = models.JSONField(null=True, blank=True)
    new_values = models.JSONField(null=True, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    actor_role = models.CharField(max_length=32, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    # Position in the hash chain (seal order, not id order), the hash of this row's
    # content and the chained hash (audit/chain.py). Set once by the sealer.
    seal_seq = models.BigIntegerField(null=True, blank=True, unique=True)
    # NULL (not "") means "not sealed yet": the sealer's work queue is WHERE seal_seq IS NULL.
    content_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    row_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # Set by the guard trigger when personal data in a sealed row is pseudonymised
    # (accounts erasure): the content no longer matches content_hash, the links still hold.
    redacted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "audit_log"
        indexes = [
            models.Index(fields=["table_name", "record_id"], name="audit_table_record_idx"),
            models.Index(fields=["user_id", "created_at"], name="audit_user_time_idx"),
            models.Index(fields=["created_at"], name="audit_time_idx"),
            # The sealer's work queue: small, because rows leave it within seconds.
            models.Index(fields=["id"], condition=models.Q(seal_seq__isnull=True), name="audit_unsealed_idx"),
        ]
        rls_policies = [
            SelectPolicy("audit_admin_read", CTX_IS_ADMIN),
            # Inserts come only from the triggers (SECURITY DEFINER, owner role);
            # the application role holds no INSERT privilege on this table.
            InsertPolicy("audit_trigger_insert", "true"),
            # The sealer and the archiver (SECURITY DEFINER functions) run as the owner.
            CustomPolicy("audit_owner_maintain", table_owner_expr("audit_log")),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.table_name}#{self.record_id}"


class AuditLogArchive(RLSModel):
    """Sealed audit rows past the retention period (same columns as AuditLog).

    Filled only by `audit_archive()` (owner); admins may read it, nobody may change it
    through the application role.
    """

    id = models.BigIntegerField(primary_key=True)
    table_name = models.CharField(max_length=128)
    record_id = models.CharField(max_length=128)
    operation = models.CharField(max_length=16)
    old_values = models.JSONField(null=True, blank=True)
    new_values = models.JSONField(null=True, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    actor_role = models.CharField(max_length=32, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    seal_seq = models.BigIntegerField(unique=True)
    content_hash = models.CharField(max_length=64)
    row_hash = models.CharField(max_length=64)
    redacted_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "audit_log_archive"
        indexes = [
            models.Index(fields=["table_name", "record_id"], name="audit_arch_table_record_idx"),
            models.Index(fields=["user_id", "created_at"], name="audit_arch_user_time_idx"),
            models.Index(fields=["created_at"], name="audit_arch_time_idx"),
        ]
        rls_policies = [
            SelectPolicy("audit_archive_admin_read", CTX_IS_ADMIN),
            CustomPolicy("audit_archive_owner_maintain", table_owner_expr("audit_log_archive")),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.table_name}#{self.record_id} (archived)"


class AuditChainHead(RLSModel):
    """The end of the hash chain: last sealed position and hash (a single row, id = 1).

    Kept apart from the rows so that cutting the tail off the log, or archiving every
    row, still leaves a value to verify against.
    """

    id = models.SmallIntegerField(primary_key=True, default=1)
    seal_seq = models.BigIntegerField(default=0)
    row_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "audit_chain_head"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chain_head_single_row")]
        rls_policies = [
            SelectPolicy("audit_head_admin_read", CTX_IS_ADMIN),
            CustomPolicy("audit_head_owner_maintain", table_owner_expr("audit_chain_head")),
        ]

    def __str__(self) -> str:
        return f"chain head #{self.seal_seq}"
