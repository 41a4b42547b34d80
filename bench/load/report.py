"""The results table: printed, and stored as bench/results/<timestamp>.md and .json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"
TARGET_RATIO = 0.35


def _ok(flag: Any) -> str:
    if flag is None:
        return "not run"
    return "met" if flag else "NOT met"


def _ms(value: Any) -> str:
    return "-" if value in (None, "") else f"{value:.0f} ms"


def figures_table(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, verdict) rows."""
    rows: list[tuple[str, str, str, str]] = []
    cap, ceil = results.get("capacity", {}), results.get("ceiling", {})
    best, top = cap.get("best"), ceil.get("best")
    if best:
        rows.append(("Capacity, mixed traffic", f"{best['rps']:.1f} req/s at {best['users']} users "
                     f"(p95 {_ms(best['p95'])}, {best['failures']} errors)", "p95 < 300 ms, 0 errors",
                     "measured"))  # fmt: skip
    else:
        rows.append(("Capacity, mixed traffic", "no step passed (see steps)", "p95 < 300 ms, 0 errors", "NOT met"))
    if top:
        rows.append(("Framework ceiling (/bench/constant/)", f"{top['rps']:.1f} req/s at {top['users']} users "
                     f"(p95 {_ms(top['p95'])})", "same gunicorn config, same run", "measured"))  # fmt: skip
    if best and top:
        ratio = best["rps"] / top["rps"] if top["rps"] else 0.0
        results["ratio"] = ratio
        rows.append(("Mixed / ceiling", f"{ratio * 100:.1f} %", f">= {TARGET_RATIO * 100:.0f} %",
                     _ok(ratio >= TARGET_RATIO)))  # fmt: skip
    soak = results.get("soak")
    if soak and "stats" in soak:
        st, mem, ob = soak["stats"], soak["memory"], soak["outbox"]
        rows.append(("Soak", f"{soak['seconds']:.0f} s at {st['rps']:.1f} req/s (target {soak['target_rps']}), "
                     f"{st['failures']} errors, {soak['access_log']['5xx']} 5xx", "0 errors", _ok(
                         st["failures"] == 0 and soak["access_log"]["5xx"] == 0)))  # fmt: skip
        growth, second = mem.get("max_growth_pct"), mem.get("max_second_half_growth_pct")
        rows.append(("Soak: memory per worker", "-" if second is None else
                     f"max growth over the second half {second:+.1f} % (from the baseline {growth:+.1f} %) "
                     f"over {len(mem['workers'])} workers (recycling {soak['recycling']})",
                     "< 10 % over the soak (< 5 % in its second half)",
                     _ok(second is not None and second < 5)))  # fmt: skip
        lag = ob.get("lag_p99_s")
        rows.append(("Soak: outbox lag p99", "-" if lag is None else
                     f"{lag:.3f} s over {ob['applied']} events ({ob['pending']} pending)", "< 1 s",
                     _ok((lag is None or lag < 1.0) and ob["pending"] == 0)))  # fmt: skip
    elif soak:
        rows.append(("Soak", soak.get("error", "failed"), "", "NOT met"))
    for name, r in results.get("faults", {}).items():
        if "error" in r:
            rows.append((f"Fault: {name}", f"error: {r['error']}", "", "NOT met"))
            continue
        if name == "redis":
            value = (f"down {r['seconds_down']:.0f} s: public probes {r['public_probes']['requests']} "
                     f"({r['public_probes']['5xx']} 5xx, background anon errors {r['anon_failures_background']}); "
                     f"signed in after: {r['signed_in_after']}/{r['clients']}")  # fmt: skip
            target = "no 5xx on public pages; still signed in"
        elif name == "docserver":
            rec = r["reconcile"]
            value = (f"down {r['seconds_down']:.0f} s: {r['bookings_committed']}/{r['bookings_during_outage']} "
                     f"bookings committed, {r['outbox_events_during_outage']} outbox events waiting; converged "
                     f"{r['converged_after_s']} s after restart; "
                     f"reconcile drift {rec.get('drift')}")  # fmt: skip
            target = "bookings commit; converge <= 60 s, drift 0"
        elif name == "worker":
            n, e = r["notifications"], r["emails"]
            value = (f"killed, down {r['down_s']:.0f} s: notifications {n['documents']}/{n['events']} "
                     f"(lost {n['lost']}, duplicated {n['duplicated']}); emails {e['queued_in_window']} "
                     f"(lost {e['lost']}, duplicated {e['duplicated']})")  # fmt: skip
            target = "no lost or duplicated notification"
        else:
            held = r["drops"][0] if r["drops"] else {}
            idle = r["drops"][1:]
            value = (f"held by a request: answered {held.get('held_request_status')} in "
                     f"{held.get('held_request_seconds')} s (hung: {held.get('held_request_hung')}), other failures "
                     f"{held.get('other_failures')}; idle pooled connections dropped: {len(idle)}, requests failed "
                     f"after them: {sum(d.get('other_failures', 0) for d in idle)} of "
                     f"{sum(d.get('requests_after', 0) for d in idle)}; slowest answer "
                     f"{r['access_log']['slowest_ms']} ms; after: {r['probes_after']['requests']} probes, "
                     f"{r['probes_after']['5xx']} 5xx")  # fmt: skip
            target = "fails cleanly, next succeed"
        rows.append((f"Fault: {name}", value, target, _ok(r.get("pass"))))
    return rows


def slowest_pages(results: dict[str, Any], n: int = 3) -> list[dict[str, Any]]:
    best = (results.get("capacity") or {}).get("best")
    if not best:
        steps = (results.get("capacity") or {}).get("steps") or []
        best = steps[0] if steps else None
    if not best:
        return []
    pages = [{"page": k, **v} for k, v in best["pages"].items() if v["requests"] >= 3]
    return sorted(pages, key=lambda p: p["p95"], reverse=True)[:n]


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"# TaskForge load, soak and fault figures — {results['started']}",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB RAM, kernel {m['kernel']}; "
        f"Python {m['python']}, Django {m['django']}, gunicorn {m['gunicorn']}, PostgreSQL {m['postgresql']}, "
        f"Redis {m['redis']}, SecantusDB {m['secantusdb']}. Load average at start {m['load_average']}, "
        f"at end {results.get('load_average_end')}.",
        "",
        f"Data: {results['sizes']['trips']:,} trips, {results['sizes']['bookings']:,} bookings, "
        f"{results['sizes']['travellers']:,} travellers; {results['sizes']['teams']} teams x "
        f"({results['sizes']['tasks_per_team']:,} tasks + {results['sizes']['comments_per_team']:,} comments) "
        f"(scale {results['scale']}).",
        f"Server: gunicorn -c deploy/gunicorn.conf.py, {results['gunicorn']['workers']} workers x "
        f"{results['gunicorn']['threads']} threads (gthread); 1 Celery worker (concurrency "
        f"{results['gunicorn']['celery_concurrency']}); load from locust on the same machine.",
        "",
        "| figure | value | target | verdict |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in figures_table(results)]
    lines += ["", "## Capacity steps", "", "| run | users | req/s | p50 | p95 | p99 | errors | within limits |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for key in ("ceiling", "capacity"):
        for s in (results.get(key) or {}).get("steps", []):
            lines.append(f"| {key} | {s['users']} | {s['rps']:.1f} | {_ms(s['p50'])} | {_ms(s['p95'])} | "
                         f"{_ms(s['p99'])} | {s['failures']} | {'yes' if s['pass'] else 'no'} |")  # fmt: skip
    slow = slowest_pages(results)
    if slow:
        lines += ["", "## Slowest pages at capacity (by p95)", "", "| page | requests | p50 | p95 | p99 |",
                  "| --- | --- | --- | --- | --- |"]  # fmt: skip
        lines += [f"| {p['page']} | {p['requests']} | {_ms(p['p50'])} | {_ms(p['p95'])} | {_ms(p['p99'])} |"
                  for p in slow]  # fmt: skip
    best = (results.get("capacity") or {}).get("best")
    if best:
        lines += ["", "## Pages at capacity", "", "| page | requests | errors | p50 | p95 | p99 |",
                  "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for name, p in sorted(best["pages"].items()):
            lines.append(f"| {name} | {p['requests']} | {p['failures']} | {_ms(p['p50'])} | {_ms(p['p95'])} | "
                         f"{_ms(p['p99'])} |")  # fmt: skip
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"* {n}" for n in results["notes"]]
    lines += ["", "Details (every step, fault probes, failures): the .json file of the same name."]
    return "\n".join(lines) + "\n"


def save(results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = RESULTS_DIR / results["started"].replace(":", "").replace("-", "").replace("T", "-")[:15]
    text = render(results)
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    return stem.with_suffix(".md")
