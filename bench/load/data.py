"""The bench data set, made by the other benchmarks' generators (imported, not copied).

* trips, departures, the search projection, travellers, bookings and the trip documents:
  `bench.catalogue` (`seed()`: set-based INSERT ... SELECT as the owner role, documents
  with insert_many) -- 100,000 trips, 1,000,000 bookings and 10,000 travellers at scale 1;
* teams: `bench.tasks` (`generate()`: one team "bench", its members, 2,000 tasks with
  detail documents and search rows, 20,000 comments), called once per team. It always
  names its team "bench" and its members bench00@example.com.., so after each call this
  module renames them (team slug bench-<k>, members bench00@t<k>.bench.example..) before
  the next one -- the local part stays, so @bench03 still mentions a teammate.

Sizes scale with --scale (0.01 for a quick run: 1,000 trips, 10,000 bookings, 100
travellers, 10 teams of 20 tasks and 200 comments). The marker table bench_load_marker
records the scale and the team roster, so a later run on the same scale reuses the data.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

TEAMS = 10
MEMBERS = 20  # signed-in staff per team the load can use


def sizes(scale: float) -> dict[str, int]:
    return {
        "trips": max(100, round(100_000 * scale)),
        "bookings": max(100, round(1_000_000 * scale)),
        "travellers": max(60, round(10_000 * scale)),
        "teams": TEAMS,
        "tasks_per_team": max(10, round(2_000 * scale)),
        "comments_per_team": max(10, round(20_000 * scale)),
        "members_per_team": MEMBERS,
    }


def seed_catalogue(scale: float) -> None:
    """Child process, owner role: trips, bookings, travellers, trip documents (bench.catalogue)."""
    from bench.catalogue.__main__ import seed

    size = sizes(scale)
    seed(argparse.Namespace(trips=size["trips"], bookings=size["bookings"], travellers=size["travellers"]))


def seed_teams(scale: float) -> list[dict[str, Any]]:
    """Child process, app role: TEAMS teams via bench.tasks.generate(); returns the roster."""
    from django.db import connection, transaction

    import bench.tasks.__main__ as tasks_bench
    from accounts.models import Team, User

    size = sizes(scale)
    # generate() reads these module constants when it runs.
    tasks_bench.TASKS = size["tasks_per_team"]
    tasks_bench.COMMENTS = size["comments_per_team"]
    roster = []
    started = time.monotonic()
    for k in range(size["teams"]):
        team_id, emails = tasks_bench.generate(size["members_per_team"])
        domain = f"t{k}.bench.example"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('rls.role', 'system', true)")
            Team.objects.filter(pk=team_id).update(name=f"Bench team {k}", slug=f"bench-{k}")
            renamed = []
            for email in ["bench-admin@example.com", *emails]:
                new = email.replace("@example.com", f"@{domain}")
                User.objects.filter(email=email).update(email=new)
                renamed.append(new)
        roster.append({"id": team_id, "slug": f"bench-{k}", "admin": renamed[0], "members": renamed[1:]})
        print(f"[bench.load]   team {k + 1}/{size['teams']} (id {team_id}) after {time.monotonic() - started:.0f} s",
              flush=True)  # fmt: skip
    return roster


def marker_read(pg: Any) -> dict[str, Any] | None:
    try:
        row = pg.execute("SELECT value FROM bench_load_marker WHERE key = 'data'").fetchone()
    except Exception:  # noqa: BLE001 - no marker table: not seeded
        return None
    return json.loads(row[0]) if row else None


def marker_write(pg: Any, value: dict[str, Any]) -> None:
    pg.execute("CREATE TABLE IF NOT EXISTS bench_load_marker (key text PRIMARY KEY, value text NOT NULL)")
    pg.execute(
        "INSERT INTO bench_load_marker VALUES ('data', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        [json.dumps(value)],
    )
