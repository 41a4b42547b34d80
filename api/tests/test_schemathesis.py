"""The API against its own OpenAPI schema, with schemathesis (property-based): generated
requests for every operation, as a team admin with a read-write token (so writes run too).
No answer may be a 5xx, and every answer must match the schema: a documented status,
content type, headers and body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.tests.conftest import trip_make
from taskforge.wsgi import application

# negative_data_rejection is left out: DRF coerces "0" to false and 5 to "5" on purpose.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _load_schema() -> Any:
    """The schema /api/v1/schema/ serves (drf-spectacular's generator; no request, no database)."""
    document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = application  # requests go straight to the WSGI application
    return loaded


@pytest.fixture
def wsgi_in_test_transaction(db) -> Iterator[None]:
    # Like Django's test client: keep the per-request connection cleanup from closing the
    # test transaction's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def star_built(django_db_setup, django_db_blocker) -> Iterator[None]:
    # The reports read the star schema (503 until the ETL has run once): build it, empty,
    # once for the module. Dropped after the module: a test's open transaction holds a lock
    # on the star tables it read, so dropping it per test would wait for that test forever.
    from reports import etl
    from reports.tests.testdata import star_drop

    with django_db_blocker.unblock():
        star_drop()
        assert etl.run_etl().status == "ok"
        yield
        star_drop()


@pytest.fixture
def admin_token(wsgi_in_test_transaction, star_built, people, token_for) -> str:
    # The schema's examples name real things: team "alps-desk" (the admin's) and trip ALP-001.
    from accounts.models import Membership, Team
    from taskforge.dbcontext import context_for_system, db_context

    trip_make(people.catalogue_editor, "ALP-001")
    with db_context(context_for_system("test")):
        team = Team.objects.create(name="Alps desk", slug="alps-desk")
        Membership.objects.create(team=team, user=people.team_admin, role="admin")
        Membership.objects.create(team=team, user=people.team_member, role="member")
    return token_for(people.team_admin)


schema = _load_schema()


@schema.exclude(path_regex="^/api/v1/(schema|docs)/$").parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.slow
def test_api_conforms_to_its_schema(case, admin_token) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS)
