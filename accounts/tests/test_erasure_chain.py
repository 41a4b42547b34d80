"""Erasure against the sealed audit hash chain (real commits: the verifier reads as the backup role)."""

from __future__ import annotations

from django.test import Client

from accounts.tests.test_personal_data import PASSWORD, _mongo_hits, _pg_hits
from taskforge.testing.personas import person_create


def test_erasure_keeps_the_sealed_audit_chain_verifiable(committed_db) -> None:
    """Seal the chain, erase, seal again: the verifier reports redacted rows and no break."""
    from audit.chain import verify_chain
    from audit.services import audit_seal_all

    person_create("member", "chainy.mcchain@example.com", PASSWORD, display_name="Chainy McChain")
    client = Client()
    response = client.post("/accounts/login/", {"email": "chainy.mcchain@example.com", "password": PASSWORD})
    assert response.status_code == 302
    client.post(
        "/accounts/profile/",
        {"first_name": "Chainy", "last_name": "McChain", "bio": "", "theme": "light", "email_cadence": "daily"},
    )
    assert audit_seal_all() > 0
    first = verify_chain()
    assert first.ok and first.checked > 0 and first.redacted == 0, first
    response = client.post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 200
    audit_seal_all()
    report = verify_chain()
    assert report.ok and report.redacted > 0 and report.checked > first.checked, report
    for term in ("chainy.mcchain@example.com", "Chainy", "McChain"):
        assert _pg_hits(term) == {} and _mongo_hits(term) == {}, term
