"""The event streams of the live service (uvicorn in a subprocess, real Redis and PostgreSQL):
who may open them, who keeps receiving, replay from Last-Event-ID, heartbeats."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from accounts.models import Membership, Team
from accounts.sessions import sessions_end
from live.tests.sse import open_stream
from taskforge import live
from taskforge.dbcontext import context_for_system, db_context
from taskforge.live import KIND_BELL, KIND_BOARD, KIND_COMMENT, team_channel, user_channel
from taskforge.testing.personas import acting, person_create
from tasks import services

PASSWORD = "correct-horse-battery"


@pytest.fixture
def crew(committed_db):
    """Team "Ops" with an admin and a member; an outsider who runs team "Elsewhere"."""
    stamp = time.monotonic_ns()
    admin = person_create("member", f"ada-{stamp}@example.com", PASSWORD)
    member = person_create("member", f"mo-{stamp}@example.com", PASSWORD)
    outsider = person_create("member", f"otto-{stamp}@example.com", PASSWORD)
    with db_context(context_for_system("test crew")):
        team = Team.objects.create(name="Ops", slug=f"ops-{stamp}")
        other = Team.objects.create(name="Elsewhere", slug=f"elsewhere-{stamp}")
        Membership.objects.create(team=team, user=admin, role="admin")
        Membership.objects.create(team=team, user=member, role="member")
        Membership.objects.create(team=other, user=outsider, role="admin")
    return {"team": team, "other": other, "admin": admin, "member": member, "outsider": outsider}


def signed_in(user) -> str:
    """A real session cookie (indexed by the site's middleware, as after signing in)."""
    client = Client()
    client.force_login(user)
    assert client.get("/").status_code == 200
    return client.cookies["sessionid"].value


def test_a_stream_needs_a_signed_in_person(live_events_proc, crew):
    team = crew["team"]
    assert open_stream(f"{live_events_proc.url}/events/board/{team.id}/").status == 401
    assert open_stream(f"{live_events_proc.url}/events/me/").status == 401
    assert open_stream(f"{live_events_proc.url}/events/me/", cookie="not-a-session").status == 401


def test_an_outsider_cannot_open_the_board_stream_but_has_their_own(live_events_proc, crew):
    cookie = signed_in(crew["outsider"])
    refused = open_stream(f"{live_events_proc.url}/events/board/{crew['team'].id}/", cookie=cookie)
    assert refused.status == 404 and "No such team" in refused.body
    assert open_stream(f"{live_events_proc.url}/events/board/999999/", cookie=cookie).status == 404
    mine = open_stream(f"{live_events_proc.url}/events/me/", cookie=cookie)
    assert mine.status == 200
    mine.close()


def test_a_member_receives_the_board_and_their_bell_but_not_others(live_events_proc, crew):
    team, member = crew["team"], crew["member"]
    stream = open_stream(f"{live_events_proc.url}/events/board/{team.id}/", cookie=signed_in(member))
    assert stream.status == 200
    time.sleep(0.3)  # the stream subscribes before it starts reading
    live.live_publish(team_channel(crew["other"].id), KIND_BOARD, {"type": "task.moved", "n": 0})
    live.live_publish(user_channel(crew["admin"].pk), KIND_BELL, {"type": "bell"})
    first = live.live_publish(team_channel(team.id), KIND_BOARD, {"type": "task.moved", "n": 1})
    second = live.live_publish(user_channel(member.pk), KIND_BELL, {"type": "bell"})
    got = [stream.next(), stream.next()]
    assert [(m.event, m.data["type"]) for m in got] == [("board", "task.moved"), ("bell", "bell")]
    assert got[0].data["n"] == 1
    assert got[1].id == f"{first}_{second}"  # every channel's position, for Last-Event-ID
    assert stream.retry == 3000
    stream.close()


def test_a_move_through_the_service_reaches_an_open_stream_at_once(live_events_proc, crew):
    admin, team = crew["admin"], crew["team"]
    with acting(admin):
        task = services.task_create(actor=admin, team_id=team.id, title="Patch", status="todo")
    stream = open_stream(f"{live_events_proc.url}/events/board/{team.id}/", cookie=signed_in(crew["member"]))
    time.sleep(0.3)
    started = time.monotonic()
    with acting(admin):
        services.task_move(actor=admin, task_id=task.id, status="in_progress", expected_version=1)
    message = stream.next(timeout=2)
    assert message is not None and time.monotonic() - started < 1.0
    assert message.data["type"] == "task.moved" and message.data["task_id"] == str(task.id)
    assert (message.data["old_status"], message.data["status"]) == ("todo", "in_progress")
    stream.close()


def test_a_person_removed_from_the_team_stops_receiving(live_events_proc, crew):
    team, member = crew["team"], crew["member"]
    stream = open_stream(f"{live_events_proc.url}/events/board/{team.id}/", cookie=signed_in(member))
    time.sleep(0.3)
    live.live_publish(team_channel(team.id), KIND_BOARD, {"type": "task.created", "n": 1})
    assert stream.next().data["n"] == 1
    with db_context(context_for_system("test remove member")):
        Membership.objects.filter(team=team, user=member).delete()
    time.sleep(0.3)  # past LIVE_RECHECK_MS (200 ms in the fixture)
    live.live_publish(team_channel(team.id), KIND_BOARD, {"type": "task.created", "n": 2, "secret": "x"})
    end = stream.next()
    assert end is not None and end.event == "end" and "secret" not in str(end.data)
    assert stream.next() is None  # the server closed the stream
    # and it cannot be opened again
    assert open_stream(f"{live_events_proc.url}/events/board/{team.id}/", cookie=signed_in(member)).status == 404


def test_a_signed_out_session_stops_its_streams(live_events_proc, crew):
    member = crew["member"]
    cookie = signed_in(member)
    stream = open_stream(f"{live_events_proc.url}/events/me/", cookie=cookie)
    time.sleep(0.3)
    with db_context(context_for_system("test sign out")):
        sessions_end(member.pk, reason="test")
    end = stream.next(timeout=3)  # at the next heartbeat (1 s in the fixture) at the latest
    assert end is not None and end.event == "end"
    assert open_stream(f"{live_events_proc.url}/events/me/", cookie=cookie).status == 401


def test_reconnecting_with_last_event_id_replays_what_was_missed(live_events_proc, crew):
    team, member = crew["team"], crew["member"]
    cookie = signed_in(member)
    ids = [live.live_publish(team_channel(team.id), KIND_BOARD, {"type": "task.edited", "n": n}) for n in range(4)]
    bell = live.live_publish(user_channel(member.pk), KIND_BELL, {"type": "bell"})
    stream = open_stream(
        f"{live_events_proc.url}/events/board/{team.id}/", cookie=cookie, last_event_id=f"{ids[1]}_0-0"
    )
    got = [stream.next(), stream.next(), stream.next()]
    # in order within a channel (across channels, ids of the same millisecond do not say which came first)
    assert [m.data["n"] for m in got if m.event == "board"] == [2, 3]
    assert [m.event for m in got].count("bell") == 1
    assert got[-1].id == f"{ids[3]}_{bell}"
    # nothing already sent comes twice, and new events follow
    after = live.live_publish(team_channel(team.id), KIND_BOARD, {"type": "task.edited", "n": 4})
    message = stream.next()
    assert message.data["n"] == 4 and message.id == f"{after}_{bell}"
    stream.close()


def test_a_gap_in_the_backlog_asks_the_page_to_resync(live_events_proc, crew):
    team = crew["team"]
    ids = [live.live_publish(team_channel(team.id), KIND_BOARD, {"n": n}) for n in range(5)]
    live._redis().xtrim(live.channel_key(team_channel(team.id)), maxlen=1, approximate=False)
    stream = open_stream(
        f"{live_events_proc.url}/events/board/{team.id}/",
        cookie=signed_in(crew["member"]),
        last_event_id=f"{ids[0]}_0-0",
    )
    message = stream.next()
    assert message.event == "resync" and message.id.startswith(ids[4])
    stream.close()


def test_bad_input_is_refused_with_a_clear_message(live_events_proc, crew):
    cookie = signed_in(crew["member"])
    base = f"{live_events_proc.url}/events/board/{crew['team'].id}/"
    bad_id = open_stream(base, cookie=cookie, last_event_id="../../etc")
    assert bad_id.status == 400 and "Last-Event-ID" in bad_id.body
    assert open_stream(base, cookie=cookie, last_event_id="1-0").status == 400  # a board id has two parts
    assert open_stream(base + "?task=nope", cookie=cookie).status == 400
    foreign = open_stream(base, cookie=cookie, headers={"Origin": "https://evil.example"})
    assert foreign.status == 403


def test_a_task_page_stream_keeps_only_that_tasks_events(live_events_proc, crew):
    team = crew["team"]
    wanted = "0b1c2d3e-0000-4000-8000-000000000001"
    stream = open_stream(
        f"{live_events_proc.url}/events/board/{team.id}/?task={wanted}", cookie=signed_in(crew["member"])
    )
    time.sleep(0.3)
    live.live_publish(team_channel(team.id), KIND_COMMENT, {"type": "comment.created", "task_id": "other"})
    live.live_publish(team_channel(team.id), KIND_COMMENT, {"type": "comment.created", "task_id": wanted})
    message = stream.next()
    assert message.event == "comment" and message.data["task_id"] == wanted
    stream.close()


def test_idle_streams_get_heartbeats(live_events_proc, crew):
    stream = open_stream(f"{live_events_proc.url}/events/me/", cookie=signed_in(crew["member"]))
    time.sleep(2.5)
    assert stream.comments.count("ping") >= 2 and stream.messages.empty()
    stream.close()
