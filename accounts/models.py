"""Accounts: users (sign-in by email), their site capabilities, teams, memberships, role
permissions, invitations, the session index, sign-in attempts and erasure records.

Two separate kinds of access:
* **site capabilities** (`CapabilityGrant`): explicit, site-wide grants made by a site admin
  (booking desk, catalogue editor, reports reader, team creator, site admin). A person with
  none is a traveller.
* **team roles** (`Membership`): guest, member or admin of one team, governing that team's
  work only. An invitation grants a membership, never a capability.

The profile (names, bio, avatar, preferences) is a content model in MongoDB (`Profile`,
with the embedded `ProfilePreferences` and `NotificationChannels`, at the end of this
module); taskforge/routers.py sends it to the `mongodb` alias.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property
from django_mongodb_backend.fields import EmbeddedModelField
from django_mongodb_backend.models import EmbeddedModel
from django_rls.models import RLSModel
from django_rls.policies import CustomPolicy

from taskforge.dbcontext import context_for_system, db_context
from taskforge.rls import CTX_IS_SYSTEM, CTX_USER_ID, InsertPolicy, SelectPolicy, ctx_has_capability


class Capability(models.TextChoices):
    """Site-wide capabilities. `site_admin` implies every other one."""

    BOOKING_DESK = "booking_desk", "Booking desk"
    CATALOGUE_EDITOR = "catalogue_editor", "Catalogue editor"
    REPORTS_READER = "reports_reader", "Reports reader"
    TEAM_CREATOR = "team_creator", "Team creator"
    SITE_ADMIN = "site_admin", "Site admin"


CAPABILITY_DESCRIPTIONS: dict[str, str] = {
    Capability.BOOKING_DESK: "See every booking and the travellers' contact details; confirm, record payments, "
    "cancel and refund",
    Capability.CATALOGUE_EDITOR: "Create and edit trips, departures, prices, seats and images",
    Capability.REPORTS_READER: "Read the revenue, seats and resort reports and download their CSVs",
    Capability.TEAM_CREATOR: "Create teams (and so become their first admin)",
    Capability.SITE_ADMIN: "Everything: the Django admin, the audit browser, the system page and the people page",
}


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
        return self._create(email, password, **fields)

    def with_access(self) -> models.QuerySet[User]:
        """Users with their capabilities and team membership loaded in the same query
        (`User.capabilities` and `User.in_a_team` then cost nothing)."""
        return self.get_queryset().annotate(
            granted_capabilities=ArrayAgg(
                "capability_grants__capability", filter=Q(capability_grants__isnull=False), default=[]
            ),
            belongs_to_a_team=Exists(Membership.objects.filter(user=OuterRef("pk"))),
        )

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        """`manage.py createsuperuser`: an account with the site-admin capability (needs a
        database context that may grant it: a site admin's, or the system's). The operator
        vouches for the address."""
        fields.setdefault("email_verified", True)
        with transaction.atomic(using=self._db), db_context(context_for_system("create_superuser")):
            user = self._create(email, password, **fields)
            CapabilityGrant.objects.using(self._db).create(user=user, capability=Capability.SITE_ADMIN)
        return user


class User(AbstractBaseUser):
    """A person who signs in. What they may do site-wide comes from their capability grants;
    what they may do in a team comes from their memberships."""

    email = models.EmailField(max_length=254, unique=True)
    display_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
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
        ]

    def __str__(self) -> str:
        return self.display_name or self.email

    @cached_property
    def capabilities(self) -> frozenset[str]:
        """The person's site capabilities, read once per request (so a change applies on the
        next one). Site admins hold every capability; inactive accounts hold none."""
        if not self.is_active or self.pk is None:
            return frozenset()
        loaded = self.__dict__.get("granted_capabilities")  # set by UserManager.with_access()
        granted = frozenset(
            loaded if loaded is not None else self.capability_grants.values_list("capability", flat=True)
        )
        return frozenset(Capability.values) if Capability.SITE_ADMIN in granted else granted

    def has_capability(self, capability: Capability | str) -> bool:
        if capability not in Capability.values:
            raise ValueError(f"unknown capability {capability!r}")
        return capability in self.capabilities

    @property
    def is_site_admin(self) -> bool:
        return Capability.SITE_ADMIN in self.capabilities

    @cached_property
    def in_a_team(self) -> bool:
        """Whether the person belongs to any team (the nav shows boards and the bell)."""
        loaded = self.__dict__.get("belongs_to_a_team")  # set by UserManager.with_access()
        if loaded is not None:
            return loaded
        return self.pk is not None and self.memberships.exists()

    # The Django admin's interface: site admins may use it, with every model permission.
    @property
    def is_staff(self) -> bool:
        return self.is_site_admin

    @property
    def is_superuser(self) -> bool:
        return self.is_site_admin

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return self.is_site_admin

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        return self.is_site_admin

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_site_admin


# Grants are readable by every context (the RLS helper and the people page read them);
# only a site admin's context, or the system's, may write them, so an application bug
# cannot let a person grant themselves a capability.
GRANT_WRITE_POLICY = f"(SELECT {ctx_has_capability('site_admin')}) OR (SELECT {CTX_IS_SYSTEM})"


class CapabilityGrant(RLSModel):
    """One site capability held by one person, who granted it and when (audited by trigger)."""

    RLS_PUBLIC_READ = True  # read with no context to load the signed-in person; writes guarded

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="capability_grants")
    capability = models.CharField(max_length=32, choices=Capability.choices)
    granted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "accounts_capability_grant"
        ordering = ["user_id", "capability"]
        constraints = [
            models.UniqueConstraint(fields=["user", "capability"], name="accounts_capability_grant_unique"),
            models.CheckConstraint(
                condition=models.Q(capability__in=Capability.values), name="accounts_capability_grant_valid"
            ),
        ]
        rls_policies = [
            SelectPolicy("capability_grant_read", "true"),
            InsertPolicy("capability_grant_insert", GRANT_WRITE_POLICY),
            CustomPolicy("capability_grant_update", GRANT_WRITE_POLICY, operation="UPDATE"),
            SelectPolicy("capability_grant_delete", GRANT_WRITE_POLICY, operation="DELETE"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} may act as {self.capability}"


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


class ApiTokenScope(models.TextChoices):
    READ = "read", "Read"
    READ_WRITE = "read_write", "Read and write"


# A person sees and changes only their own tokens; the API's authentication looks a token up
# by its hash in the system context (before anyone is known) and records its last use there.
API_TOKEN_POLICY = f"user_id = (SELECT {CTX_USER_ID}) OR (SELECT {CTX_IS_SYSTEM})"


class ApiToken(RLSModel):
    """A personal access token for the REST API (`Authorization: Bearer tf_<prefix>_<secret>`).

    Shown once when created; only the SHA-256 of the whole token is stored (it has 256 bits
    of randomness, so a slow hash adds nothing). `prefix` is shown in the list so a person
    can tell their tokens apart. A token is usable while not revoked, not expired and its
    owner is active; `last_used_at`/`last_used_ip` are written at most once a minute.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16)
    secret_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=16, choices=ApiTokenScope.choices, default=ApiTokenScope.READ)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "accounts_api_token"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(scope__in=ApiTokenScope.values), name="accounts_api_token_scope_valid"),
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="accounts_api_token_user_idx")]
        rls_policies = [CustomPolicy("api_token_owner", API_TOKEN_POLICY, operation="ALL")]

    def __str__(self) -> str:
        return f"API token {self.prefix} of {self.user_id}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def status(self) -> str:
        if self.is_revoked:
            return "revoked"
        if self.is_expired:
            return "expired"
        return "active"

    @property
    def can_write(self) -> bool:
        return self.scope == ApiTokenScope.READ_WRITE


# --- content models (MongoDB, the `mongodb` alias) -------------------------------------------

THEMES = ("light", "dark", "system")
CADENCES = ("immediate", "hourly", "daily", "weekly")
# The outbox aggregate of profiles: recorded by accounts/services/profile.py (and erasure.py),
# applied by accounts/sync.py.
PROFILE_AGGREGATE = "profile"
# Fields of a profile document besides _id/version/deleted (the tombstone removes them).
PROFILE_FIELDS = ("first_name", "last_name", "bio", "avatar", "preferences", "updated_at")


class NotificationChannels(EmbeddedModel):
    """Where a person wants notifications (embedded in ProfilePreferences as `channels`)."""

    email = models.BooleanField(default=True, help_text="Send notifications by email.")
    in_app = models.BooleanField(default=True, help_text="Show notifications in the site.")

    def __str__(self) -> str:
        return f"email={self.email} in_app={self.in_app}"


class ProfilePreferences(EmbeddedModel):
    """A person's site preferences (embedded in Profile as `preferences`): the colour theme,
    the notification channels, how often notification email is sent and the time zone."""

    theme = models.CharField(
        max_length=16, choices=[(t, t.capitalize()) for t in THEMES], default="system", help_text="Colour theme."
    )
    channels = EmbeddedModelField(
        NotificationChannels, default=NotificationChannels, help_text="Notification channels wanted."
    )
    email_cadence = models.CharField(
        max_length=16,
        choices=[(c, c.capitalize()) for c in CADENCES],
        default="immediate",
        help_text="How often notification email is sent (the rest wait for a digest).",
    )
    # Dates are stored in UTC and entered and shown in this zone (an IANA name, validated
    # against zoneinfo by accounts.selectors.time_zone_valid; activated per request).
    time_zone = models.CharField(max_length=64, default="UTC", help_text="Time zone (IANA name, e.g. Europe/Berlin).")

    def __str__(self) -> str:
        return f"{self.theme}, {self.channels}, {self.email_cadence}, {self.time_zone}"


class Profile(models.Model):
    """A user's profile document (`profiles` collection; `_id` = the user's id).

    PostgreSQL is its source of truth (User.profile_version and the outbox event holding the
    whole state): only the outbox applier (accounts/sync.py) writes it, keyed by the user id
    and guarded by `version`, so replays and out-of-order deliveries are harmless. Reads go
    through accounts.selectors. An erased user's document is a tombstone: `deleted` true, a
    version, and none of the personal fields (they read as None). No money here.
    """

    user_id = models.IntegerField(
        primary_key=True, db_column="_id", help_text="The user's id (accounts.User, in PostgreSQL)."
    )
    version = models.IntegerField(default=0, help_text="User.profile_version this document shows.")
    first_name = models.CharField(max_length=100, blank=True, default="", help_text="First name.")
    last_name = models.CharField(max_length=100, blank=True, default="", help_text="Last name.")
    bio = models.TextField(max_length=2000, blank=True, default="", help_text="A few words about the person.")
    avatar = models.CharField(
        max_length=100, blank=True, default="", help_text="File name of the profile picture under MEDIA_ROOT/avatars/."
    )
    preferences = EmbeddedModelField(
        ProfilePreferences, null=True, blank=True, default=ProfilePreferences, help_text="Site preferences."
    )
    updated_at = models.DateTimeField(null=True, blank=True, help_text="When the person last changed it (UTC).")
    deleted = models.BooleanField(default=False, help_text="A tombstone: the account was erased.")

    class Meta:
        db_table = "profiles"
        ordering = ["user_id"]

    def __str__(self) -> str:
        if self.deleted:
            return f"erased profile {self.user_id}"
        return f"{self.first_name or ''} {self.last_name or ''}".strip() or f"profile {self.user_id}"
