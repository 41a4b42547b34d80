"""List protected tables with their row-level security, check the roles, prove isolation."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.rlscheck import rls_report


class Command(BaseCommand):
    help = (
        "List every protected table with its ENABLE/FORCE flags and policies; fail if one lacks them, or if the "
        "application role is a superuser, has BYPASSRLS or owns a protected table, or if PUBLIC may execute a "
        "SECURITY DEFINER function; then prove isolation with real queries under no context, traveller, staff "
        "and admin contexts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--table",
            action="append",
            default=[],
            dest="tables",
            help="Also require this table to be protected (repeatable).",
        )
        parser.add_argument("--no-proofs", action="store_true", help="Only inspect the catalog.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = rls_report(extra_tables=tuple(options["tables"]), prove=not options["no_proofs"])
        yes = {True: "yes", False: "NO"}
        self.stdout.write(f"application role: {settings.DB_APP_ROLE}")
        self.stdout.write(f"{'table':32} {'enable':6} {'force':6} owner / policies")
        for t in report.tables:
            if not t.exists:
                self.stdout.write(f"{t.table:32} {'-':6} {'-':6} MISSING ({'; '.join(t.reasons)})")
                continue
            self.stdout.write(f"{t.table:32} {yes[t.enabled]:6} {yes[t.forced]:6} owner {t.owner}")
            for p in t.policies or []:
                clause = f"USING ({p.using})" if p.using else ""
                if p.check:
                    clause += f" WITH CHECK ({p.check})"
                self.stdout.write(f"{'':46}- {p.name} [{p.command} to {p.roles}] {clause}")
            if not t.policies:
                self.stdout.write(f"{'':46}- (no policies)")
        self.stdout.write("security definer functions (run with their owner's rights; PUBLIC must not execute them):")
        for f in report.functions:
            who = ", ".join(g for g in f.grantees if g != f.owner) or "owner only"
            mark = self.style.ERROR("FAIL") if f.problem else self.style.SUCCESS("ok  ")
            self.stdout.write(f"  {mark} {f.signature} (owner {f.owner}): {who}")
        if report.proofs:
            self.stdout.write("isolation proofs:")
            for proof in report.proofs:
                mark = self.style.SUCCESS("ok  ") if proof.ok else self.style.ERROR("FAIL")
                self.stdout.write(f"  {mark} {proof.name}: {proof.detail}")
        problems = report.problems
        if problems:
            for problem in problems:
                self.stderr.write(self.style.ERROR(f"problem: {problem}"))
            raise CommandError(f"row-level security check failed: {len(problems)} problem(s): " + "; ".join(problems))
        self.stdout.write(self.style.SUCCESS(f"row-level security in order on {len(report.tables)} table(s)"))
