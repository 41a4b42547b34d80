"""Capacity steps and the soak: locust runs (headless, one process per step, CSV output)
against the bench gunicorn, and the figures read from their CSV files and from /proc."""

from __future__ import annotations

import csv
import json
import math
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.load.stack import ROOT, RUN_DIR, Managed, Registry, Web, rss_kib

P95_LIMIT_MS = 300.0


@dataclass
class Ctx:
    """Everything the phases share."""

    args: Any
    env: dict[str, str]
    registry: Registry
    web: Web
    worker: Any
    redis: Any
    docs: Any
    roster: list[dict[str, Any]]
    sizes: dict[str, int]
    db_name: str
    superuser: dict[str, Any]
    runs: int = 0
    notes: list[str] = field(default_factory=list)

    def locust_env(self, mode: str, wait: str) -> dict[str, str]:
        return {
            **self.env,
            "PYTHONPATH": str(ROOT),
            "BENCH_MODE": mode,
            "BENCH_WAIT": wait,
            "BENCH_TRIPS": str(self.sizes["trips"]),
            "BENCH_TRAVELLERS": str(self.sizes["travellers"]),
            "BENCH_TEAMS": json.dumps([{"id": t["id"], "members": t["members"]} for t in self.roster]),
        }


class LocustRun(Managed):
    """One headless locust process; its figures come from the CSV files it writes on exit."""

    name = "locust"

    def __init__(self, ctx: Ctx, label: str, *, mode: str, users: int, seconds: float, wait: str) -> None:
        super().__init__(ctx.registry, ctx.locust_env(mode, wait))
        ctx.runs += 1
        self.label = label
        self.users = users
        self.seconds = seconds
        self.prefix = RUN_DIR / "locust" / f"{ctx.runs:02d}-{label.replace(' ', '-')}"
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        self.url = ctx.web.url
        self.processes = ctx.args.locust_processes

    def start(self) -> LocustRun:
        args = [
            sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "load" / "locustfile.py"), "--headless",
            "--host", self.url, "-u", str(self.users), "-r", str(max(1, min(self.users, 50))),
            "-t", f"{max(1, round(self.seconds))}s", "--csv", str(self.prefix), "--only-summary", "--reset-stats",
            "--exit-code-on-error", "0", "--stop-timeout", "2", "--loglevel", "WARNING",
        ]  # fmt: skip
        if self.processes > 1:
            args += ["--processes", str(self.processes)]
        self._popen(args, Path(f"{self.prefix}.log"))
        self.started = time.time()
        return self

    def finish(self, early: bool = False) -> dict[str, Any]:
        """Wait for the run to end (or end it now) and read its figures."""
        if early and self.running():
            self.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]  # locust writes its CSV on SIGTERM
        try:
            self.proc.wait(timeout=self.seconds + 120)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(f"locust run {self.label} did not end; see {self.prefix}.log") from None
        self.ended = time.time()
        self.proc = None
        return read_stats(self.prefix, self.label, self.users)

    def run(self) -> dict[str, Any]:
        self.start()
        return self.finish()


def read_stats(prefix: Path, label: str, users: int) -> dict[str, Any]:
    path = Path(f"{prefix}_stats.csv")
    if not path.exists():
        raise RuntimeError(f"locust wrote no statistics for {label}; see {prefix}.log:\n"
                           + Path(f"{prefix}.log").read_text(errors="replace")[-2000:])  # fmt: skip
    pages: dict[str, dict[str, Any]] = {}
    total: dict[str, Any] = {}
    for row in csv.DictReader(path.open()):
        figures = {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "rps": float(row["Requests/s"]),
            "p50": _num(row.get("50%")),
            "p95": _num(row.get("95%")),
            "p99": _num(row.get("99%")),
            "avg": _num(row.get("Average Response Time")),
            "max": _num(row.get("Max Response Time")),
        }
        if row["Name"] == "Aggregated":
            total = figures
        else:
            pages[f"{row['Type']} {row['Name']}"] = figures
    failures = []
    fpath = Path(f"{prefix}_failures.csv")
    if fpath.exists():
        failures = [
            {"request": f"{r['Method']} {r['Name']}", "error": r["Error"], "count": int(r["Occurrences"])}
            for r in csv.DictReader(fpath.open())
        ]
    return {"label": label, "users": users, **total, "pages": pages, "failure_list": failures}


def _num(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "", "N/A") else 0.0
    except ValueError:
        return 0.0


def passes(step: dict[str, Any]) -> bool:
    return step.get("requests", 0) > 0 and step.get("failures", 1) == 0 and step.get("p95", 1e9) < P95_LIMIT_MS


def capacity(ctx: Ctx, *, mode: str, think: float, label: str) -> dict[str, Any]:
    """Step the user count up until p95 reaches 300 ms, an error appears, or throughput
    stops growing (two steps without +3%). Capacity = best throughput of a passing step."""
    args = ctx.args
    users = args.start_users
    steps: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    flat = 0
    tried: set[int] = set()
    refined = False
    while users <= args.max_users and users not in tried:
        tried.add(users)
        step = LocustRun(ctx, f"{label}-{users}u", mode=mode, users=users, seconds=args.step_seconds,
                         wait=f"closed:{think}").run()  # fmt: skip
        step["pass"] = passes(step)
        steps.append(step)
        print(f"[bench.load]   {label:<8} {users:>4} users  {step['rps']:8.1f} req/s  p50 {step['p50']:6.0f} ms  "
              f"p95 {step['p95']:6.0f} ms  errors {step['failures']}  {'ok' if step['pass'] else 'OVER'}",
              flush=True)  # fmt: skip
        if not step["pass"]:
            if best is None and users > 1:
                # Even the first step is over the limit (a busy machine): try fewer users.
                users = max(1, users // 2)
                continue
            if best is not None and not refined and users - best["users"] > 1:
                # The knee lies between the last good step and this one: try halfway, once.
                refined = True
                users = (users + best["users"]) // 2
                continue
            break
        if best is None or step["rps"] > best["rps"] * 1.03:
            flat = 0
        else:
            flat += 1
        if best is None or step["rps"] > best["rps"]:
            best = step
        if flat >= 2 or refined:
            break  # saturated, or the halfway step between a good and a bad one is done
        users = max(users + 1, math.ceil(users * args.step_factor))
    return {"steps": steps, "best": best}


class RssSampler(threading.Thread):
    """RSS of every gunicorn worker (from /proc/<pid>/status) every `every` seconds."""

    def __init__(self, web: Web, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.web, self.every = web, every
        self.samples: list[tuple[float, int, int]] = []  # (time, pid, rss KiB)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            now = time.time()
            for pid in self.web.workers():
                rss = rss_kib(pid)
                if rss:
                    self.samples.append((now, pid, rss))
            self.stopped.wait(self.every)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)

    def growth(self, baseline_at: float) -> dict[str, Any]:
        """Per worker: RSS at its first samples after `baseline_at` (caches and pools warm)
        against its last ones, and the same over the second half of the window.

        Both are reported; the verdict uses the second half, against half the limit (a
        steady leak of 10% over the soak grows 5% in its second half). gunicorn hands the
        warm-up's requests to its workers unevenly, so a worker that served few of them
        still grows to the others' size early in the soak (measured: 96 MiB at the
        baseline, later 180 MiB, the size the busier workers had from the start). That is
        start-up, not a leak; a leak keeps growing, and shows in the second half.
        Workers that did not live through the window are counted."""
        by_pid: dict[int, list[tuple[float, int]]] = {}
        for at, pid, rss in self.samples:
            by_pid.setdefault(pid, []).append((at, rss))
        workers = []
        for pid, series in by_pid.items():
            after = [s for s in series if s[0] >= baseline_at]
            if len(after) < 4:
                continue
            # Medians of three samples: one GC pause is not a trend.
            base = statistics.median(r for _, r in after[:3])
            middle = len(after) // 2
            mid = statistics.median(r for _, r in after[max(0, middle - 1) : middle + 2])
            last = statistics.median(r for _, r in after[-3:])
            step = max(1, len(after) // 20)
            workers.append({"pid": pid, "baseline_mib": round(base / 1024, 1), "middle_mib": round(mid / 1024, 1),
                            "final_mib": round(last / 1024, 1), "peak_mib": round(max(r for _, r in after) / 1024, 1),
                            "growth_pct": round((last - base) / base * 100, 2),
                            "second_half_growth_pct": round((last - mid) / mid * 100, 2),
                            "series_mib": [round(r / 1024, 1) for _, r in after[::step]]})  # fmt: skip
        return {
            "workers": workers,
            "max_growth_pct": max((w["growth_pct"] for w in workers), default=None),
            "max_second_half_growth_pct": max((w["second_half_growth_pct"] for w in workers), default=None),
            "pids_seen": len(by_pid),
        }


def outbox_window(start: float, end: float) -> dict[str, Any]:
    """Lag (created -> applied, as the relay records it) of the events created in [start, end)."""
    from datetime import UTC, datetime

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'applied'), count(*) FILTER (WHERE status = 'pending'), "
            "count(*) FILTER (WHERE status = 'dead'), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY lag_ms) FILTER (WHERE status = 'applied'), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY lag_ms) FILTER (WHERE status = 'applied'), "
            "max(lag_ms) FILTER (WHERE status = 'applied') "
            "FROM outbox_event WHERE created_at >= %s AND created_at < %s",
            [datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)],
        )
        total, applied, pending, dead, p50, p99, worst = cursor.fetchone()
    return {
        "events": total, "applied": applied, "pending": pending, "dead": dead,
        "lag_p50_s": None if p50 is None else round(p50 / 1000, 3),
        "lag_p99_s": None if p99 is None else round(p99 / 1000, 3),
        "lag_max_s": None if worst is None else round(worst / 1000, 3),
    }  # fmt: skip


def server_errors(text: str) -> dict[str, Any]:
    """5xx lines of a slice of the gunicorn access log (deploy/gunicorn.conf.py's format)."""
    import re

    line_re = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) .*duration_ms=(?P<ms>\d+)')
    total, errors, slowest = 0, [], 0
    for line in text.splitlines():
        m = line_re.search(line)
        if not m:
            continue
        total += 1
        slowest = max(slowest, int(m["ms"]))
        if m["status"].startswith("5"):
            errors.append(f"{m['status']} {m['method']} {m['path']} ({m['ms']} ms)")
    return {"requests": total, "5xx": len(errors), "examples": errors[:10], "slowest_ms": slowest,
            "worker_timeouts": text.count("WORKER TIMEOUT")}  # fmt: skip


def soak(ctx: Ctx, cap: dict[str, Any]) -> dict[str, Any]:
    """--soak-seconds at --soak-fraction of capacity: errors, RSS growth per worker, outbox lag."""
    args = ctx.args
    best = cap["best"]
    target = args.soak_fraction * best["rps"]
    users = max(2, best["users"])
    recycle = "deploy" if args.soak_recycle else "off"
    if not args.soak_recycle:
        # Recycling (max_requests) would hide a leak: a worker would be replaced before it grew.
        ctx.web.stop()
        ctx.web.start(GUNICORN_MAX_REQUESTS="0")
        # Fresh workers load templates, code and pools on their first requests: warm them
        # before the baseline, so growth means growth, not start-up.
        LocustRun(ctx, "soak-warm-up", mode="mixed", users=users, seconds=min(60.0, max(15.0, args.soak_seconds / 4)),
                  wait=f"closed:{args.think}").run()  # fmt: skip
    sampler = RssSampler(ctx.web, every=max(1.0, min(5.0, args.soak_seconds / 30)))
    sampler.start()
    offset = ctx.web.log_offset()
    start = time.time()
    run = LocustRun(ctx, "soak", mode="mixed", users=users, seconds=args.soak_seconds,
                    wait=f"rate:{target / users:.4f}")  # fmt: skip
    stats = run.run()
    end = time.time()
    sampler.stop()
    time.sleep(2)  # let the relay apply the last events
    from sync.status import outbox_figures

    baseline_at = start + min(60.0, max(5.0, 0.1 * args.soak_seconds))
    result = {
        "target_rps": round(target, 1), "users": users, "seconds": round(end - start, 1), "stats": stats,
        "memory": sampler.growth(baseline_at), "recycling": recycle,
        "outbox": outbox_window(start, end), "outbox_figures": outbox_figures(),
        "access_log": server_errors(ctx.web.log_since(offset)),
    }  # fmt: skip
    if not args.soak_recycle:
        ctx.web.stop()
        ctx.web.start()
    mem = result["memory"]["max_second_half_growth_pct"]
    lag = result["outbox"]["lag_p99_s"]
    result["pass"] = bool(
        stats["failures"] == 0 and result["access_log"]["5xx"] == 0 and mem is not None
        and mem < 5  # the second half: a steady 10% over the whole soak is 5% there
        and (lag is None or lag < 1.0) and result["outbox"]["pending"] == 0
    )  # fmt: skip
    return result
