"""Faults under load. Each runs with locust background traffic (mixed, at --fault-load of
capacity) plus the harness's own probes (bench/load/probes.py), whose every answer is
recorded, and reads the gunicorn access log of the window for 5xx answers.

* redis:     the bench Redis is shut down (no save) for --fault-seconds and started again
             (empty, as after a crash): public pages must keep answering (no 5xx), and
             clients signed in before the outage must still be signed in afterwards
             (sessions are cached_db: PostgreSQL holds them).
* docserver: the bench SecantusDB is stopped for --fault-seconds: bookings made through the
             real form must still commit (PostgreSQL + outbox), and after the restart the
             outbox must drain (every event created before the restart applied) within
             --converge-seconds, with `manage.py sync_reconcile` reporting zero drift.
* worker:    the Celery worker (main process and pool) is SIGKILLed while staff comments
             with mentions flow, and started again after --fault-seconds: every notification
             created in the window must exist exactly once (outbox event -> one document),
             and every email queued in the window must be sent exactly once (Message-IDs in
             the file mailbox).
* postgres:  one of gunicorn's PostgreSQL backends is terminated (pg_terminate_backend, as
             the superuser), preferably one running a request's query: that request must
             fail cleanly (an answer, no hang, no worker timeout) and the next ones succeed.
"""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from bench.load import probes
from bench.load.pages import TASK_LINK_RE
from bench.load.phases import Ctx, LocustRun, outbox_window, server_errors
from bench.load.stack import ROOT, RUN_DIR

HANG_SECONDS = 10.0  # an answer slower than this during a fault counts as a hang


def _background(ctx: Ctx, cap: dict[str, Any], label: str, seconds: float) -> LocustRun:
    best = cap["best"]
    users = max(2, best["users"])
    rate = ctx.args.fault_load * best["rps"] / users
    return LocustRun(ctx, f"fault-{label}", mode="mixed", users=users, seconds=seconds,
                     wait=f"rate:{rate:.4f}").start()  # fmt: skip


def _codes(ctx: Ctx, rng: random.Random, n: int = 20) -> list[str]:
    # Active trips only (bench.catalogue makes every 20th trip inactive).
    picks = []
    while len(picks) < n:
        i = rng.randint(1, ctx.sizes["trips"])
        if i % 20:
            picks.append(f"B{i:06d}")
    return picks


def _travellers(ctx: Ctx, k: int, offset: int) -> list[str]:
    t = ctx.sizes["travellers"]
    return [f"traveller{(t - 1 - offset - i) % t:05d}@bench.example" for i in range(k)]


def _summary(answers: list[probes.Answer]) -> dict[str, Any]:
    import statistics

    statuses = Counter(a.status for a in answers)
    return {
        "requests": len(answers),
        "statuses": dict(sorted(statuses.items())),
        "5xx": sum(v for s, v in statuses.items() if s >= 500),
        "no_answer": statuses.get(0, 0),
        "median_s": round(statistics.median(a.seconds for a in answers), 3) if answers else None,
        "slowest_s": round(max((a.seconds for a in answers), default=0.0), 2),
    }


# --- Redis ------------------------------------------------------------------------------------------


def redis_fault(ctx: Ctx, cap: dict[str, Any]) -> dict[str, Any]:
    secs = ctx.args.fault_seconds
    rng = random.Random(1)
    codes = _codes(ctx, rng)
    rec = probes.Recorder()
    port = ctx.web.port
    signed = [probes.sign_in(port, e) for e in _travellers(ctx, 5, 0)]
    staff = [probes.sign_in(port, team["members"][-1]) for team in ctx.roster[:3]]
    before = [probes.signed_in(c, rec, "signed in before") for c in signed + staff]
    load = _background(ctx, cap, "redis", secs + 40)
    time.sleep(5)
    anon = probes.Client(port)

    def public(i: int) -> None:
        what, path = probes.public_paths(rng, codes)[i % 5]
        probes.timed(anon, rec, f"public {what}", "GET", path)

    def members(i: int) -> None:
        probes.signed_in(signed[i % len(signed)], rec, "signed-in page during")

    loops = [probes.Loop(public, 0.1), probes.Loop(members, 0.5)]
    for loop in loops:
        loop.start()
    offset = ctx.web.log_offset()
    down = time.time()
    ctx.redis.stop()
    time.sleep(secs)
    ctx.redis.start()
    up = time.time()
    time.sleep(3)
    for loop in loops:
        loop.stop()
    log = server_errors(ctx.web.log_since(offset))
    after = [probes.signed_in(c, rec, "signed in after") for c in signed + staff]
    stats = load.finish(early=True)
    public_during = [a for a in rec.between(down, up + 3) if a.what.startswith("public")]
    anon_failures = sum(p["failures"] for name, p in stats["pages"].items() if " anon: " in f" {name}")
    result = {
        "seconds_down": round(up - down, 1),
        "public_probes": _summary(public_during),
        "signed_in_during": _summary(rec.between(down, up, "signed-in page during")),
        "signed_in_before": sum(before), "signed_in_after": sum(after), "clients": len(before),
        "access_log": log, "background": _brief(stats), "anon_failures_background": anon_failures,
    }  # fmt: skip
    result["pass"] = (
        result["public_probes"]["5xx"] == 0 and result["public_probes"]["no_answer"] == 0
        and anon_failures == 0 and result["signed_in_after"] == result["clients"] == result["signed_in_before"]
    )  # fmt: skip
    return result


# --- document server --------------------------------------------------------------------------------


def _pending_before(moment: float) -> int:
    from datetime import UTC, datetime

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM outbox_event WHERE status <> 'applied' AND created_at <= %s",
            [datetime.fromtimestamp(moment, UTC)],
        )
        return cursor.fetchone()[0]


def reconcile() -> dict[str, Any]:
    """`manage.py sync_reconcile --json` against the bench stack (the operator's tool)."""
    import json
    import os

    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "manage.py", "sync_reconcile", "--json"], cwd=ROOT, env=dict(os.environ),
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    try:
        reports = json.loads(out.stdout[out.stdout.index("[") :])
    except ValueError:
        return {"error": (out.stderr or out.stdout)[-1500:], "drift": None, "seconds": time.monotonic() - started}
    return {
        "drift": sum(int(r.get("drift") or 0) for r in reports),
        "by_type": {
            r["aggregate_type"]: {k: r.get(k) for k in ("drift", "in_flight", "dead_letters")} for r in reports
        },
        "errors": [e for r in reports for e in r.get("errors") or []],
        "seconds": round(time.monotonic() - started, 1),
    }


def docserver_fault(ctx: Ctx, cap: dict[str, Any]) -> dict[str, Any]:
    from bookings.models import Booking
    from taskforge.dbcontext import DbContext, db_context

    secs, limit = ctx.args.fault_seconds, ctx.args.converge_seconds
    rng = random.Random(2)
    codes = _codes(ctx, rng, 200)
    rec = probes.Recorder()
    port = ctx.web.port
    travellers = [probes.sign_in(port, e) for e in _travellers(ctx, 3, 10)]
    team = ctx.roster[1 % len(ctx.roster)]
    mover = probes.sign_in(port, team["admin"])  # may move any card of the team
    _, board, _ = probes.timed(mover, rec, "board", "GET", f"/tasks/teams/{team['id']}/board/")
    task_ids = TASK_LINK_RE.findall(board)
    load = _background(ctx, cap, "docserver", secs + limit + 30)
    time.sleep(5)
    booked: list[int] = []
    moved: list[bool] = []

    versions: dict[str, int] = {}
    for task_id in task_ids[:5]:  # read the cards' versions while the document server is up
        probes.move(mover, rec, task_id, rng, versions)

    def card_mover(i: int) -> None:
        # Task rows commit in PostgreSQL; their detail documents wait in the outbox.
        if task_ids:
            moved.append(probes.move(mover, rec, task_ids[i % min(len(task_ids), 5)], rng, versions))

    def booker(i: int) -> None:
        booking = probes.book(travellers[i % len(travellers)], rec, codes[i % len(codes)])
        if booking:
            booked.append(booking)

    anon = probes.Client(port)

    def trip_page(i: int) -> None:
        probes.timed(anon, rec, "trip page", "GET", f"/trips/{codes[i % len(codes)]}/")

    offset = ctx.web.log_offset()
    down = time.time()
    ctx.docs.stop()
    loops = [probes.Loop(booker, 0.2), probes.Loop(trip_page, 0.3), probes.Loop(card_mover, 0.1)]
    for loop in loops:
        loop.start()
    time.sleep(secs)
    for loop in loops:
        loop.stop()
    during = list(booked)
    ctx.docs.start()
    up = time.time()
    converged_after = None
    while time.time() - up < max(limit * 3, 60):
        if _pending_before(up) == 0:
            converged_after = round(time.time() - up, 1)
            break
        time.sleep(1)
    stats = load.finish(early=True)
    log = server_errors(ctx.web.log_since(offset))
    with db_context(DbContext(role="system", user_agent="bench.load")):
        committed = Booking.objects.filter(pk__in=during).count()
    outage = outbox_window(down, up)
    drift = reconcile()
    confirms = rec.between(down, up, "booking confirm")
    result = {
        "seconds_down": round(secs, 1),
        "bookings_during_outage": len(during), "bookings_committed": committed,
        "cards_moved_during_outage": sum(moved), "outbox_events_during_outage": outage["events"],
        "outbox_events_dead": outage["dead"],
        "booking_confirms": _summary(confirms), "trip_pages_during": _summary(rec.between(down, up, "trip page")),
        "converged_after_s": converged_after, "converge_limit_s": limit, "reconcile": drift,
        "access_log": log, "background": _brief(stats),
    }  # fmt: skip
    result["pass"] = bool(
        during and committed == len(during) and result["booking_confirms"]["5xx"] == 0
        and converged_after is not None and converged_after <= limit and drift.get("drift") == 0
        and outage["dead"] == 0
    )  # fmt: skip
    return result


# --- Celery worker ------------------------------------------------------------------------------------


def _mail_message_ids() -> Counter[str]:
    import re

    ids: Counter[str] = Counter()
    for path in (RUN_DIR / "mail").glob("*"):
        for match in re.finditer(r"^Message-ID: *(<[^>]+>)", path.read_text(errors="replace"), re.M | re.I):
            ids[match.group(1)] += 1
    return ids


def worker_fault(ctx: Ctx, cap: dict[str, Any]) -> dict[str, Any]:
    from datetime import UTC, datetime

    from django.db import connection

    from taskforge.mongo import documents_collection
    from tasks.models import Notification

    secs = ctx.args.fault_seconds
    rec = probes.Recorder()
    port = ctx.web.port
    team = ctx.roster[0]
    writer = probes.sign_in(port, team["members"][0])
    status, page, _ = probes.timed(writer, rec, "board", "GET", f"/tasks/teams/{team['id']}/board/")
    task_ids = TASK_LINK_RE.findall(page)
    if not task_ids:
        return {"pass": False, "error": f"no task on the board of team {team['id']} (HTTP {status})"}
    mates = [m.split("@", 1)[0] for m in team["members"][1:]]
    load = _background(ctx, cap, "worker", secs + 90)
    start = time.time()
    written = []

    def commenter(i: int) -> None:
        ok = probes.comment(writer, rec, task_ids[i % len(task_ids)], f"@{mates[i % len(mates)]} bench fault check {i}")
        written.append(ok)

    loop = probes.Loop(commenter, 0.3)
    loop.start()
    time.sleep(max(3.0, secs / 3))
    killed = time.time()
    ctx.worker.kill()
    time.sleep(secs)
    ctx.worker.start()
    restarted = time.time()
    time.sleep(max(3.0, secs / 3))
    loop.stop()
    end = time.time()
    stats = load.finish(early=True)
    # Quiescence: nothing pending in the outbox, no email queued or being sent (a claim held
    # by the killed worker is taken over when its lease ends: EMAIL_SEND_LEASE_SECONDS).
    from django.conf import settings

    window = [datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)]
    deadline = time.time() + settings.EMAIL_SEND_LEASE_SECONDS + 90
    while time.time() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT count(*) FROM outbox_event WHERE status = 'pending' AND created_at < %s), "
                "(SELECT count(*) FROM email_delivery WHERE status IN ('queued', 'sending') AND created_at < %s)",
                [window[1], window[1]],
            )
            pending, unsent = cursor.fetchone()
        if pending == 0 and unsent == 0:
            break
        time.sleep(2)
    settled = round(time.time() - restarted, 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT aggregate_id, status FROM outbox_event WHERE aggregate_type = 'notification' "
            "AND created_at >= %s AND created_at < %s",
            window,
        )
        events = cursor.fetchall()
        cursor.execute(
            "SELECT status, message_id FROM email_delivery WHERE created_at >= %s AND created_at < %s", window
        )
        emails = cursor.fetchall()
    ids = [e[0] for e in events]
    fields = {"_id": 1, "user_id": 1, "task_id": 1, "kind": 1, "actor_id": 1, "created_at": 1}
    docs = list(documents_collection(Notification).find({"_id": {"$in": ids}}, fields))
    doc_ids = Counter(d["_id"] for d in docs)
    semantic = Counter((d.get("user_id"), d.get("task_id"), d.get("kind"), d.get("actor_id"), str(d.get("created_at")))
                       for d in docs)  # fmt: skip
    mailbox = _mail_message_ids()
    sent = [mid for st, mid in emails if st == "sent"]
    email_status = Counter(st for st, _ in emails)
    result = {
        "killed_after_s": round(killed - start, 1), "down_s": round(restarted - killed, 1), "settled_after_s": settled,
        "comments_posted": sum(written), "comment_errors": len(written) - sum(written),
        "notifications": {
            "events": len(ids), "events_unapplied": sum(1 for _, st in events if st != "applied"),
            "documents": len(doc_ids), "lost": len(set(ids) - set(doc_ids)),
            "duplicated": sum(n - 1 for n in semantic.values() if n > 1),
        },
        "emails": {
            "queued_in_window": len(emails), "by_status": dict(email_status),
            "lost": sum(1 for mid in sent if mailbox.get(mid, 0) == 0)
                    + email_status.get("queued", 0) + email_status.get("sending", 0),
            "duplicated": sum(max(0, mailbox.get(mid, 0) - 1) for mid in sent),
        },
        "probe_errors": _summary([a for a in rec.answers if a.status >= 500 or a.status == 0]),
        "background": _brief(stats),
    }  # fmt: skip
    n, e = result["notifications"], result["emails"]
    result["pass"] = bool(
        n["events"] > 0 and n["lost"] == 0 and n["duplicated"] == 0 and n["events_unapplied"] == 0
        and e["lost"] == 0 and e["duplicated"] == 0 and email_status.get("failed", 0) == 0
    )  # fmt: skip
    return result


# --- PostgreSQL connection --------------------------------------------------------------------------


def _superuser(ctx: Ctx) -> Any:
    import psycopg

    su = ctx.superuser
    return psycopg.connect(
        host=su.get("HOST") or None, port=su.get("PORT") or None, user=su["USER"],
        password=su.get("PASSWORD") or None, dbname=ctx.db_name, autocommit=True,
    )  # fmt: skip


def _web_ports(ctx: Ctx) -> set[int]:
    """Local TCP ports of the gunicorn workers' connections (to tell their backends apart)."""
    import psutil

    ports: set[int] = set()
    for pid in ctx.web.workers():
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.raddr and conn.raddr.port == int(ctx.env.get("BENCH_PG_PORT", "5432")):
                    ports.add(conn.laddr.port)
    return ports


def _held_request_drop(ctx: Ctx, su: Any, rec: probes.Recorder, traveller: Any, code: str) -> dict[str, Any]:
    """Drop the connection of a request that is in the middle of its work.

    To catch one deterministically, the harness (as the superuser) locks the departure row
    of a trip, then a probe confirms a booking of that trip: the request's backend waits on
    the lock (state active, wait_event_type Lock) while holding its transaction. That
    backend is terminated; the lock is released right after. The request must answer
    (an error page, not a hang) and nothing else may fail."""
    import threading

    ports = _web_ports(ctx)
    su.execute("BEGIN")
    su.execute("SELECT d.id FROM bookings_departure d JOIN bookings_trip t ON t.id = d.trip_id "
                "WHERE t.code = %s FOR UPDATE OF d", [code])  # fmt: skip
    outcome: dict[str, Any] = {}

    def confirm() -> None:
        outcome["booking"] = probes.book(traveller, rec, code)

    thread = threading.Thread(target=confirm, daemon=True)
    started = time.time()
    thread.start()
    victim = None
    deadline = time.time() + 15
    while time.time() < deadline and victim is None:
        rows = su.execute(
            "SELECT pid, client_port, left(query, 80) FROM pg_stat_activity WHERE datname = current_database() "
            "AND usename = %s AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            [ctx.env["BENCH_APP_ROLE"]],
        ).fetchall()
        victim = next((r for r in rows if r[1] in ports or not ports), None)
        if victim is None and rows:
            # Under load a worker's pool may have opened the request's connection after
            # the snapshot above: look at the workers' sockets again.
            ports = _web_ports(ctx)
            victim = next((r for r in rows if r[1] in ports or not ports), None)
        if victim is None:
            time.sleep(0.02)
    log_at = ctx.web.log_offset()
    at = time.time()
    if victim is not None:
        su.execute("SELECT pg_terminate_backend(%s)", [victim[0]])
    su.execute("ROLLBACK")
    thread.join(timeout=HANG_SECONDS + 30)
    time.sleep(5)
    window = server_errors(ctx.web.log_since(log_at))
    confirm_answers = [a for a in rec.between(started, time.time(), "booking confirm")]
    answer = confirm_answers[-1] if confirm_answers else None
    return {
        "kind": "held by a request", "pid": victim[0] if victim else None, "query": victim[2] if victim else "",
        "at": at, "held_request_status": answer.status if answer else None,
        "held_request_seconds": round(answer.seconds, 2) if answer else None,
        "held_request_hung": thread.is_alive(),
        "5xx_within_5s": window["5xx"], "examples": window["examples"], "slowest_ms": window["slowest_ms"],
        "other_failures": max(0, window["5xx"] - 1),
        "ok": bool(victim and answer and answer.status >= 500 and answer.status != 0 and not thread.is_alive()
                   and answer.seconds < HANG_SECONDS and window["5xx"] <= 1),
    }  # fmt: skip


def _idle_drop(ctx: Ctx, su: Any, rng: random.Random) -> dict[str, Any]:
    """Drop an idle connection in a gunicorn worker's pool (as a network blip or a
    PostgreSQL restart of one backend would): no request should notice."""
    ports = _web_ports(ctx)
    rows = su.execute(
        "SELECT pid, state, client_port, left(query, 80) FROM pg_stat_activity "
        "WHERE datname = current_database() AND usename = %s AND state = 'idle' AND pid <> pg_backend_pid()",
        [ctx.env["BENCH_APP_ROLE"]],
    ).fetchall()
    pool = [r for r in rows if r[2] in ports]
    if not pool:
        return {"kind": "idle in a pool", "error": "no idle backend of gunicorn found", "ok": False}
    victim = rng.choice(pool)
    log_at = ctx.web.log_offset()
    at = time.time()
    su.execute("SELECT pg_terminate_backend(%s)", [victim[0]])
    # The pool hands its connections out in turn: after enough requests, one of them has
    # been given the dead connection (at least 5 s and 100 requests, at most 30 s).
    deadline = time.time() + 30
    time.sleep(5)
    while time.time() < deadline and server_errors(ctx.web.log_since(log_at))["requests"] < 100:
        time.sleep(1)
    window = server_errors(ctx.web.log_since(log_at))
    return {"kind": "idle in a pool", "pid": victim[0], "query": victim[3], "at": at,
            "requests_after": window["requests"], "5xx_after": window["5xx"], "examples": window["examples"],
            "slowest_ms": window["slowest_ms"], "other_failures": window["5xx"], "ok": window["5xx"] == 0}  # fmt: skip


def postgres_fault(ctx: Ctx, cap: dict[str, Any]) -> dict[str, Any]:
    rng = random.Random(4)
    rec = probes.Recorder()
    port = ctx.web.port
    traveller = probes.sign_in(port, _travellers(ctx, 1, 20)[0])
    booker = probes.sign_in(port, _travellers(ctx, 1, 21)[0])
    anon = probes.Client(port)
    load = _background(ctx, cap, "postgres", ctx.args.fault_seconds + 40 + 6 * ctx.args.pg_drops)
    time.sleep(5)

    def probe(i: int) -> None:
        if i % 2:
            probes.timed(traveller, rec, "probe", "GET", "/bookings/mine/")
        else:
            probes.timed(anon, rec, "probe", "GET", f"/trips/?q=spa&page={1 + i % 3}")

    loop = probes.Loop(probe, 0.05)
    loop.start()
    drops = []
    offset = ctx.web.log_offset()
    with _superuser(ctx) as su:
        drops.append(_held_request_drop(ctx, su, rec, booker, _codes(ctx, rng, 1)[0]))
        for _ in range(max(0, ctx.args.pg_drops - 1)):
            drops.append(_idle_drop(ctx, su, rng))
    settle = max(d.get("at", 0) for d in drops) + 5
    time.sleep(max(5.0, ctx.args.fault_seconds / 2))
    loop.stop()
    end = time.time()
    stats = load.finish(early=True)
    log = server_errors(ctx.web.log_since(offset))
    after = [a for a in rec.between(settle, end) if a.what == "probe"]
    during = [a for a in rec.between(drops[0].get("at", end), settle) if a.what == "probe"]
    result = {
        "drops": drops, "probes_during": _summary(during), "probes_after": _summary(after),
        "access_log": log, "background": _brief(stats),
    }  # fmt: skip
    result["pass"] = bool(
        all(d.get("ok") for d in drops)
        and log["worker_timeouts"] == 0 and log["slowest_ms"] < HANG_SECONDS * 1000
        and result["probes_during"]["no_answer"] == 0
        and result["probes_after"]["requests"] > 0 and result["probes_after"]["5xx"] == 0
        and result["probes_after"]["no_answer"] == 0
    )  # fmt: skip
    return result


def _brief(stats: dict[str, Any]) -> dict[str, Any]:
    keys = ("users", "requests", "failures", "rps", "p50", "p95", "p99")
    return {**{k: stats.get(k) for k in keys}, "failure_list": stats.get("failure_list", [])[:10]}


FAULTS = {"redis": redis_fault, "docserver": docserver_fault, "worker": worker_fault, "postgres": postgres_fault}


def run_faults(ctx: Ctx, cap: dict[str, Any], names: list[str]) -> dict[str, Any]:
    results = {}
    for name in names:
        print(f"[bench.load] fault: {name} ({ctx.args.fault_seconds:.0f} s) ...", flush=True)
        started = time.monotonic()
        try:
            results[name] = FAULTS[name](ctx, cap)
        except Exception as exc:  # noqa: BLE001 - report it and go on with the next fault
            import traceback

            results[name] = {"pass": False, "error": repr(exc), "trace": traceback.format_exc()[-3000:]}
        finally:
            # Whatever happened, the next phase starts with every service up.
            if not ctx.redis.running():
                ctx.redis.start()
            if not ctx.docs.running():
                ctx.docs.start()
            if not ctx.worker.running():
                ctx.worker.start()
        results[name]["phase_seconds"] = round(time.monotonic() - started, 1)
        print(f"[bench.load]   {name}: {'ok' if results[name].get('pass') else 'NOT met'}"
              + (f" ({results[name]['error']})" if "error" in results[name] else ""), flush=True)  # fmt: skip
    return results
