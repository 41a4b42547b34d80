"""Django admin: users (with their capabilities, read-only: granted on the People page), teams,
memberships, role permissions, profiles (MongoDB content, edited through the profile service)
(+ read-only security records)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import (
    CADENCES,
    THEMES,
    CapabilityGrant,
    ErasureRecord,
    Invitation,
    LoginAttempt,
    Membership,
    Profile,
    RolePermission,
    Team,
    User,
    UserSession,
)
from accounts.permissions import PERMISSIONS, permissions_invalidate
from accounts.selectors import avatar_url, preferences_as_dict
from accounts.services.profile import profile_update
from taskforge.admin_site import DocumentAdmin

# Access follows the site_admin capability, not Django's groups and permissions.
admin.site.unregister(Group)


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "display_name")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with this email address already exists.")
        return email


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class CapabilityInline(admin.TabularInline):
    """Capabilities are granted on the People page (one service, one audit); shown here."""

    model = CapabilityGrant
    fk_name = "user"
    extra = 0
    fields = ("capability", "granted_by", "granted_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("team",)
    fk_name = "user"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    ordering = ("email",)
    list_display = ("email", "display_name", "is_active", "email_verified", "date_joined", "last_login")
    list_filter = (
        "is_active",
        "email_verified",
        "capability_grants__capability",
        ("erased_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("email", "display_name")
    readonly_fields = ("date_joined", "last_login", "erased_at", "profile_version", "capabilities_link")
    filter_horizontal = ()
    inlines = (CapabilityInline, MembershipInline)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("display_name", "email_verified")}),
        ("Access", {"fields": ("is_active", "capabilities_link")}),
        ("Dates", {"fields": ("date_joined", "last_login", "erased_at", "profile_version")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "display_name", "password1", "password2")}),)

    @admin.display(description="Site capabilities")
    def capabilities_link(self, obj: User) -> str:
        return format_html(
            '<a href="{}">Grant or remove on the People page</a>', reverse("accounts:person", args=[obj.pk])
        )

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not change:
            obj.email_verified = True  # a site admin made the account for this address
        super().save_model(request, obj, form, change)

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else ()  # teams are added once the user exists


class TeamMembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    fk_name = "team"


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_by", "created_at")
    search_fields = ("name", "slug")
    list_filter = ("created_at",)
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("created_by",)
    inlines = (TeamMembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "team", "role", "joined_at")
    list_filter = ("role", "team")
    search_fields = ("user__email", "user__display_name", "team__name", "team__slug")
    autocomplete_fields = ("user", "team")


class RolePermissionForm(forms.ModelForm):
    permission = forms.ChoiceField(choices=sorted(PERMISSIONS.items()))

    class Meta:
        model = RolePermission
        fields = ("team", "role", "permission")


@admin.register(RolePermission)
class RolePermissionAdmin(admin.ModelAdmin):
    form = RolePermissionForm
    list_display = ("team", "role", "permission")
    list_filter = ("role", "permission", "team")
    search_fields = ("team__name", "team__slug", "permission")
    autocomplete_fields = ("team",)

    # The admin saves inside a transaction. Clearing the cached table there lets another
    # request, which still sees the old rows, cache the old table again before the commit,
    # where it would stay for an hour: clear it after the commit instead.

    def save_model(self, request: HttpRequest, obj: RolePermission, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _invalidate_on_commit({obj.team_id})

    def delete_model(self, request: HttpRequest, obj: RolePermission) -> None:
        team_id = obj.team_id
        super().delete_model(request, obj)
        _invalidate_on_commit({team_id})

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        team_ids = set(queryset.values_list("team_id", flat=True))
        super().delete_queryset(request, queryset)
        _invalidate_on_commit(team_ids)


def _invalidate_on_commit(team_ids: set[int]) -> None:
    def invalidate() -> None:
        for team_id in team_ids:
            permissions_invalidate(team_id)

    transaction.on_commit(invalidate)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ("email", "team", "role", "invited_by", "created_at", "expires_at", "accepted_at", "revoked_at")
    list_filter = ("role", "team", ("accepted_at", admin.EmptyFieldListFilter))
    search_fields = ("email", "team__name")
    exclude = ("token_hash",)


@admin.register(LoginAttempt)
class LoginAttemptAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "email", "succeeded", "reason", "ip", "user_agent")
    list_filter = ("succeeded", "reason", "created_at")
    search_fields = ("email", "ip")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UserSession)
class UserSessionAdmin(ReadOnlyAdmin):
    list_display = ("user", "browser", "ip", "created_at", "last_seen_at", "ended_at", "end_reason")
    list_filter = ("end_reason", ("ended_at", admin.EmptyFieldListFilter))
    search_fields = ("user__email", "ip")
    exclude = ("sid_hash",)


@admin.register(ErasureRecord)
class ErasureRecordAdmin(ReadOnlyAdmin):
    list_display = ("erased_at", "user_id", "pseudonym", "requested_by")
    search_fields = ("pseudonym", "user_id")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- profiles (MongoDB content) -------------------------------------------------------------


class ProfileAdminForm(forms.ModelForm):
    """The fields a site admin may change; the preferences flattened into typed fields."""

    theme = forms.ChoiceField(choices=[(t, t.capitalize()) for t in THEMES])
    notify_email = forms.BooleanField(label="Email notifications", required=False)
    notify_in_app = forms.BooleanField(label="In-app notifications", required=False)
    email_cadence = forms.ChoiceField(label="Email cadence", choices=[(c, c.capitalize()) for c in CADENCES])

    class Meta:
        model = Profile
        fields = ("first_name", "last_name", "bio")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prefs = preferences_as_dict(self.instance.preferences)
        self.initial.setdefault("theme", prefs["theme"])
        self.initial.setdefault("notify_email", prefs["channels"]["email"])
        self.initial.setdefault("notify_in_app", prefs["channels"]["in_app"])
        self.initial.setdefault("email_cadence", prefs["email_cadence"])


@admin.register(Profile)
class ProfileAdmin(DocumentAdmin):
    """Profiles are content whose truth is in PostgreSQL (User.profile_version + the outbox):
    an admin's edit goes through profile_update (version, outbox event, content audit) and
    never writes the document itself. Profiles come and go with their accounts (no add or
    delete here); an erased profile is read-only. The picture is the person's own to change."""

    form = ProfileAdminForm
    list_display = ("user_id", "first_name", "last_name", "theme", "updated_at", "version", "deleted")
    list_display_links = ("user_id", "first_name")
    search_fields = ("first_name", "last_name", "bio")
    list_filter = ("deleted",)
    readonly_fields = ("account", "picture", "version", "updated_at", "deleted")
    fieldsets = (
        (None, {"fields": ("account", "first_name", "last_name", "bio", "picture")}),
        ("Preferences", {"fields": ("theme", "notify_email", "notify_in_app", "email_cadence")}),
        ("Document", {"fields": ("version", "updated_at", "deleted")}),
    )

    @admin.display(description="Theme")
    def theme(self, obj: Profile) -> str:
        return preferences_as_dict(obj.preferences)["theme"]

    @admin.display(description="Account")
    def account(self, obj: Profile) -> str:
        return format_html(
            '<a href="{}">User {}</a> (email, display name and access are changed there)',
            reverse("admin:accounts_user_change", args=[obj.user_id]),
            obj.user_id,
        )

    @admin.display(description="Profile picture")
    def picture(self, obj: Profile) -> str:
        if not obj.avatar:
            return "None. Only the person can add one, on their profile page."
        return format_html(
            '<a href="{}">{}</a> (only the person can change it, on their profile page)',
            avatar_url(obj.avatar),
            obj.avatar,
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.deleted:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Profile, form: Any, change: bool) -> None:
        data = form.cleaned_data
        profile_update(
            user=get_object_or_404(User, pk=obj.user_id),  # an orphaned document has no one to edit
            first_name=data["first_name"],
            last_name=data["last_name"],
            bio=data["bio"],
            theme=data["theme"],
            notify_email=data["notify_email"],
            notify_in_app=data["notify_in_app"],
            email_cadence=data["email_cadence"],
        )
