"""The audit log: written only by PostgreSQL triggers and SECURITY DEFINER functions."""

from __future__ import annotations

from django.db import models
from django_rls.models import RLSModel

from taskforge.rls import CTX_IS_ADMIN, InsertPolicy, SelectPolicy


class AuditLog(RLSModel):
    """One row per changed row (or content document), with who, where and what changed.

    The application role may only SELECT (and RLS lets admins alone see rows); the
    rows are inserted by the audit triggers, which run as the owner role.
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
    created_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        db_table = "audit_log"
        indexes = [
            models.Index(fields=["table_name", "record_id"], name="audit_table_record_idx"),
            models.Index(fields=["user_id", "created_at"], name="audit_user_time_idx"),
            models.Index(fields=["created_at"], name="audit_time_idx"),
        ]
        rls_policies = [
            SelectPolicy("audit_admin_read", CTX_IS_ADMIN),
            # Inserts come only from the triggers (SECURITY DEFINER, owner role);
            # the application role holds no INSERT privilege on this table.
            InsertPolicy("audit_trigger_insert", "true"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.table_name}#{self.record_id}"
