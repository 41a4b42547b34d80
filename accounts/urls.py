"""URL routes of the accounts app (included at the site root, namespace "accounts")."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.views import auth, data, people, profile, sessions, teams, tokens

urlpatterns = [
    path("accounts/login/", auth.login_view, name="login"),
    path("accounts/logout/", auth.logout_view, name="logout"),
    path("accounts/register/", auth.register_view, name="register"),
    path("accounts/verify/resend/", auth.verify_resend_view, name="verify_resend"),
    path("accounts/verify/<str:token>/", auth.verify_view, name="verify"),
    path("accounts/password/", auth.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html"),
        name="password_change_done",
    ),
    path("accounts/password/reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path("accounts/reset/<uidb64>/<token>/", auth.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("accounts/profile/", profile.profile_view, name="profile"),
    path("accounts/profile/theme/", profile.theme_view, name="theme"),
    path("accounts/profile/avatar/", profile.avatar_upload_view, name="avatar_upload"),
    path("accounts/profile/avatar/delete/", profile.avatar_delete_view, name="avatar_delete"),
    path("accounts/avatars/<str:name>", profile.avatar_view, name="avatar"),
    path("accounts/profile/tokens/", tokens.token_create_view, name="api_token_create"),
    path("accounts/profile/tokens/<int:token_id>/revoke/", tokens.token_revoke_view, name="api_token_revoke"),
    path("accounts/sessions/", sessions.sessions_view, name="sessions"),
    path("accounts/sessions/<int:session_id>/revoke/", sessions.session_revoke_view, name="session_revoke"),
    path("accounts/sessions/revoke-others/", sessions.sessions_revoke_others_view, name="sessions_revoke_others"),
    path("accounts/data/", data.data_view, name="data"),
    path("accounts/data/export/", data.data_export_view, name="data_export"),
    path("accounts/delete/", data.account_delete_view, name="delete"),
    path("people/", people.people_view, name="people"),
    path("people/<int:user_id>/", people.person_view, name="person"),
    path("teams/", teams.teams_view, name="teams"),
    path("teams/new/", teams.team_create_view, name="team_create"),
    path("teams/<slug:slug>/", teams.team_view, name="team"),
    path("teams/<slug:slug>/invite/", teams.team_invite_view, name="team_invite"),
    path(
        "teams/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        teams.invitation_revoke_view,
        name="invitation_revoke",
    ),
    path("teams/<slug:slug>/members/<int:user_id>/role/", teams.member_role_view, name="member_role"),
    path("teams/<slug:slug>/members/<int:user_id>/remove/", teams.member_remove_view, name="member_remove"),
    path("teams/<slug:slug>/leave/", teams.team_leave_view, name="team_leave"),
    path("teams/<slug:slug>/permissions/", teams.team_permissions_view, name="team_permissions"),
    path("invitations/<str:token>/", teams.invitation_view, name="invitation"),
]
