"""Writes of site capabilities: a site admin grants and removes them (the People page).

Each change is one transaction; the grant table is audited by trigger and protected by
row-level security (only a site admin's context, or the system's, may write it). A person's
capabilities are read on every request, so a change applies on their next one.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from accounts.models import Capability, CapabilityGrant, User
from taskforge.errors import Conflict, NotFound, ServiceError

CAPABILITY_LOCK_KEY = 0x74666361  # "tfca": one change of capabilities at a time


def capabilities_set(*, actor: User, user_id: int, capabilities: Iterable[str]) -> frozenset[str]:
    """Make `user_id` hold exactly `capabilities`: grant the missing ones, remove the others."""
    if not actor.is_site_admin:
        raise NotFound("No such page.")
    wanted = set(capabilities)
    unknown = wanted - set(Capability.values)
    if unknown:
        raise ServiceError(f"Unknown capability: {', '.join(sorted(unknown))}.", field="capabilities")
    with transaction.atomic():
        # Changes of capabilities take turns (they are rare): two admins removing each other at
        # once would otherwise both see two admins, or deadlock on each other's rows.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CAPABILITY_LOCK_KEY])
        person = User.objects.select_for_update().filter(pk=user_id, erased_at__isnull=True).first()
        if person is None:
            raise NotFound("No such person.")
        held = set(CapabilityGrant.objects.filter(user=person).values_list("capability", flat=True))
        if Capability.SITE_ADMIN in held - wanted:
            if person.pk == actor.pk:
                raise Conflict("You cannot remove your own site-admin capability; ask another site admin.")
            if _site_admin_count() <= 1:
                raise Conflict("This is the last site admin; grant the capability to someone else first.")
        for capability in sorted(wanted - held):
            CapabilityGrant.objects.create(user=person, capability=capability, granted_by=actor)
        CapabilityGrant.objects.filter(user=person, capability__in=held - wanted).delete()
    return frozenset(wanted)


def _site_admin_count() -> int:
    """Active site admins (read under the capability lock, so two removals cannot both pass)."""
    return CapabilityGrant.objects.filter(capability=Capability.SITE_ADMIN, user__is_active=True).count()
