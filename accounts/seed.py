"""Demo accounts. Passwords are for the local demo only and printed by `make run`."""

from __future__ import annotations

from typing import Any

from accounts.models import Role, User

DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    ("admin@taskforge.local", "Ada Admin", Role.ADMIN),
    ("sam@taskforge.local", "Sam Staff", Role.STAFF),
    ("kim@taskforge.local", "Kim Staff", Role.STAFF),
    ("tara@example.com", "Tara Traveller", Role.TRAVELLER),
    ("theo@example.com", "Theo Traveller", Role.TRAVELLER),
]


def seed_demo(stdout: Any) -> None:
    for email, name, role in DEMO_USERS:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            if role == Role.ADMIN:
                user = User.objects.create_superuser(email, DEMO_PASSWORD, display_name=name)
            else:
                user = User.objects.create_user(
                    email, DEMO_PASSWORD, display_name=name, role=role, is_staff=False
                )
            user.email_verified = True
            user.save(update_fields=["email_verified"])
            stdout.write(f"created {role} {email}")
