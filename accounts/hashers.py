"""The password hasher: Argon2id with OWASP's recommended minimum costs.

Django's default Argon2 costs (100 MiB, 2 passes, 8 lanes) took 280 ms of CPU per
sign-in on our 2-core servers: one sign-in cost as much as twenty pages, a fifth of
the CPU under the bench's mixed traffic went to hashing, and every concurrent
sign-in held 100 MiB. OWASP's Password Storage Cheat Sheet lists m=19 MiB, t=2, p=1
among its equivalent minimum configurations for Argon2id: 40 ms per hash here.

The algorithm name stays "argon2", so existing hashes (any costs) verify, and Django
re-hashes them with these costs at the user's next sign-in (must_update compares the
parameters).
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
