"""Accounts: users (sign-in by email, with a site role), teams, memberships, role
permissions, invitations, the session index, sign-in attempts and erasure records."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Role(models.TextChoices):
    TRAVELLER = "traveller", "Traveller"
    STAFF = "staff", "Staff"
    ADMIN = "admin", "Admin"


class UserManager(BaseUserManager["User"]):
    """Creates users with normalised, case-insensitively unique emails."""

    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)

    def _create(self, email: str, password: str | None, **fields: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("role", Role.TRAVELLER)
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(role=Role.ADMIN, is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: a traveller, a staff member or an admin."""

    email = models.EmailField(max_length=254, unique=True)
    display_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.TRAVELLER)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use the Django admin.")
    email_verified = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    erased_at = models.DateTimeField(null=True, blank=True)
    # Version of the profile document in MongoDB: bumped with every profile write,
    # in the same transaction as the outbox event that carries the new state.
    profile_version = models.BigIntegerField(default=0)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        db_table = "accounts_user"
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=["traveller", "staff", "admin"]), name="accounts_user_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.email

    @property
    def is_staff_member(self) -> bool:
        return self.role in (Role.STAFF, Role.ADMIN)

    @property
    def is_site_admin(self) -> bool:
        return self.role == Role.ADMIN


class TeamRole(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    GUEST = "guest", "Guest"


class Team(models.Model):
    """A group of staff who share boards and tasks."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "accounts_team"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one team."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=TeamRole.choices, default=TeamRole.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "accounts_membership"
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="accounts_membership_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "member", "guest"]), name="accounts_membership_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["user", "team"], name="accounts_membership_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class RolePermission(models.Model):
    """Which permissions a team role holds in one team (editable by team admins)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="role_permissions")
    role = models.CharField(max_length=16, choices=TeamRole.choices)
    permission = models.CharField(max_length=64)

    class Meta:
        db_table = "accounts_role_permission"
        constraints = [
            models.UniqueConstraint(fields=["team", "role", "permission"], name="accounts_role_permission_unique")
        ]

    def __str__(self) -> str:
        return f"{self.team}: {self.role} may {self.permission}"


class Invitation(models.Model):
    """An emailed invitation to join a team: a single-use token link that expires.

    Only a SHA-256 hash of the token is stored; the token itself is only in the email.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=TeamRole.choices, default=TeamRole.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "accounts_invitation"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "member", "guest"]), name="accounts_invitation_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["team", "created_at"], name="accounts_invitation_team_idx")]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.team} ({self.role})"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class UserSession(models.Model):
    """One signed-in browser session, for the "Your sessions" page and revocation.

    `sid_hash` is the SHA-256 of a random id kept inside the session data (it survives
    the session-key rotations Django does at sign-in and password change); the cookie
    value itself is never stored here. A session is active while `ended_at` is null;
    the Redis set user:sessions:<user id> mirrors the active hashes for a fast check.
    """

    AUDIT = False  # high churn (last_seen); sign-ins are recorded in LoginAttempt

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    sid_hash = models.CharField(max_length=64, unique=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    browser = models.CharField(max_length=120, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        db_table = "accounts_user_session"
        ordering = ["-last_seen_at"]
        indexes = [
            models.Index(
                fields=["user", "last_seen_at"],
                name="accounts_session_active_idx",
                condition=models.Q(ended_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"session of {self.user_id} ({self.browser or 'unknown browser'})"


class LoginAttempt(models.Model):
    """Every sign-in attempt, successful or not, with where it came from."""

    AUDIT = False  # a security log of its own; auditing each row would double it

    email = models.CharField(max_length=254)
    user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    succeeded = models.BooleanField(default=False)
    reason = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "accounts_login_attempt"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["email", "created_at"], name="accounts_attempt_email_idx"),
            models.Index(fields=["ip", "created_at"], name="accounts_attempt_ip_idx"),
            models.Index(fields=["created_at"], name="accounts_attempt_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{'ok' if self.succeeded else self.reason} {self.email} from {self.ip}"


class ErasureRecord(models.Model):
    """That an account was erased, when, and under which pseudonym (no personal data)."""

    user_id = models.BigIntegerField(db_index=True)
    pseudonym = models.CharField(max_length=64)
    requested_by = models.CharField(max_length=16, default="self")
    erased_at = models.DateTimeField(default=timezone.now)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "accounts_erasure_record"
        ordering = ["-erased_at"]

    def __str__(self) -> str:
        return f"erasure of user {self.user_id} as {self.pseudonym}"
