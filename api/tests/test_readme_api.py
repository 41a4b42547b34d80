"""The README's API examples, run as written (with curl) against a live server."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from api.tests.conftest import trip_make
from taskforge.dbcontext import context_for_system, db_context

pytestmark = pytest.mark.slow


def readme_curl_commands() -> list[str]:
    """The `curl` lines of the README's API section's shell block."""
    text = (Path(settings.BASE_DIR) / "README.md").read_text()
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the README's API section has no ```sh block"
    return [line for line in block.group(1).splitlines() if line.startswith("curl ")]


def test_readme_lists_the_examples_the_issue_asks_for() -> None:
    commands = readme_curl_commands()
    assert any("/api/v1/me/" in c and "PATCH" not in c for c in commands)
    assert any("/api/v1/teams/" in c for c in commands)
    assert any("/api/v1/trips/?q=" in c for c in commands)
    assert any("Idempotency-Key" in c for c in commands)
    assert any("Idempotency-Key" in c and "/api/v1/bookings/" in c for c in commands)


def test_readme_curl_examples_work_against_a_live_server(live_server_proc) -> None:
    from accounts.models import Membership, Team
    from accounts.services.api_tokens import api_token_create
    from taskforge.testing.personas import people_create

    people = people_create("readme")
    with db_context(context_for_system("readme example data")):
        team = Team.objects.create(name="Alps desk", slug="alps-desk")
        Membership.objects.create(team=team, user=people.team_admin, role="admin")
        Membership.objects.create(team=team, user=people.team_member, role="member")
        token = api_token_create(user=people.team_admin, name="readme", scope="read_write").secret
    trip_make(people.catalogue_editor, "LAKE-1")

    env = {**os.environ, "TF": live_server_proc.url, "TOKEN": token}
    answers = []
    for command in readme_curl_commands():
        done = subprocess.run(
            ["bash", "-c", command + " -w '\\n%{http_code}'"], env=env, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, (command, done.stderr)
        body, _, status = done.stdout.rpartition("\n")
        answers.append((command, int(status), json.loads(body) if body.strip() else None))
    statuses = [status for _, status, _ in answers]
    assert statuses == [200, 200, 200, 200, 200, 201, 200, 201], answers
    me, teams, members, trips, patched, invited, departures, booked = (body for _, _, body in answers)
    assert me["email"] == people.team_admin.email
    assert [t["slug"] for t in teams["results"]] == ["alps-desk", people.x.slug] or "alps-desk" in {
        t["slug"] for t in teams["results"]
    }
    assert {m["email"] for m in members["results"]} == {people.team_admin.email, people.team_member.email}
    assert trips["mode"] == "typo" and trips["corrected_query"].startswith("lake")
    assert [t["code"] for t in trips["results"]] == ["LAKE-1"]
    assert patched["preferences"]["theme"] == "dark"
    assert invited["email"] == "grace@example.com" and invited["status"] == "pending"
    # The invitation again, as written: the same answer, nothing new.
    again = subprocess.run(["bash", "-c", readme_curl_commands()[5]], env=env, capture_output=True, text=True)
    assert json.loads(again.stdout)["id"] == invited["id"]
    # The departures, and the booking on the next one; booking again with the key books nothing more.
    [departure] = departures["results"]
    assert departure["unit_price_minor"] == 100_000 and departure["seats_left"] == 10
    assert booked["trip_code"] == "LAKE-1" and booked["travel_date"] == departure["date"]
    assert booked["total_minor"] == 200_000 and booked["status"] == "pending"
    rebooked = subprocess.run(["bash", "-c", readme_curl_commands()[7]], env=env, capture_output=True, text=True)
    assert json.loads(rebooked.stdout)["id"] == booked["id"]
