"""The README's task examples (list my tasks, create a task, move it), run as written — one
shell script with curl — against a live server."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import acting

pytestmark = pytest.mark.slow


def readme_tasks_block() -> str:
    """The shell block of the README's API section that uses /api/v1/tasks/."""
    text = (Path(settings.BASE_DIR) / "README.md").read_text()
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", section, re.S) if "/api/v1/tasks/" in b]
    assert len(blocks) == 1, "the README's API section needs one ```sh block of task examples"
    return blocks[0]


def test_readme_has_the_task_examples_the_issue_asks_for() -> None:
    block = readme_tasks_block()
    assert "# List my tasks" in block and "?assignee=me" in block
    assert "# Create a task" in block and "Idempotency-Key" in block
    assert "# Move it" in block and "If-Match: $ETAG" in block


def test_readme_task_examples_work_against_a_live_server(live_server_proc) -> None:
    from accounts.models import Membership, Team
    from accounts.services.api_tokens import api_token_create
    from taskforge.testing.personas import people_create
    from tasks import services
    from tasks.models import Task

    people = people_create("readmetasks")
    with db_context(context_for_system("readme example data")):
        team = Team.objects.create(name="Alps desk", slug="alps-desk")
        Membership.objects.create(team=team, user=people.team_member, role="member")
        token = api_token_create(user=people.team_member, name="readme", scope="read_write").secret
    with acting(people.team_member):
        services.task_create(
            actor=people.team_member, team_id=team.pk, title="Check the rooming list", assignee_id=people.team_member.pk
        )
    env = {**os.environ, "TF": live_server_proc.url, "TOKEN": token}
    script = "set -euo pipefail\n" + readme_tasks_block()
    with tempfile.TemporaryDirectory() as workdir:
        strict = script.replace("curl -sS ", "curl -sS --fail-with-body ")  # any 4xx/5xx fails the script
        done = subprocess.run(["bash", "-c", strict], env=env, cwd=workdir, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert '"title":"Check the rooming list"' in done.stdout  # list my tasks
        assert done.stdout.endswith('"status":"in_progress"' + done.stdout.rsplit('"status":"in_progress"', 1)[1])
        # As written again: the same Idempotency-Key replays the first create (its ETag is
        # now stale, so the move is refused with 412 rather than applied twice).
        again = subprocess.run(["bash", "-c", script], env=env, cwd=workdir, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, (again.stdout, again.stderr)
        assert "Idempotent-Replayed: true" in Path(workdir, "headers.txt").read_text()
        assert '"status":412' in again.stdout
    with acting(people.team_member):
        created = Task.objects.get(team=team, title="Book the coaches")
    assert (
        created.status == "in_progress" and created.priority == "high" and created.creator_id == people.team_member.pk
    )
