"""URL routes of the accounts app (included at the site root, namespace "accounts")."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views, views_people

urlpatterns = [
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("accounts/register/", views.register_view, name="register"),
    path("accounts/verify/resend/", views.verify_resend_view, name="verify_resend"),
    path("accounts/verify/<str:token>/", views.verify_view, name="verify"),
    path("accounts/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html"),
        name="password_change_done",
    ),
    path("accounts/password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path("accounts/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("accounts/profile/", views.profile_view, name="profile"),
    path("accounts/profile/theme/", views.theme_view, name="theme"),
    path("accounts/profile/avatar/", views.avatar_upload_view, name="avatar_upload"),
    path("accounts/profile/avatar/delete/", views.avatar_delete_view, name="avatar_delete"),
    path("accounts/avatars/<str:name>", views.avatar_view, name="avatar"),
    path("accounts/sessions/", views.sessions_view, name="sessions"),
    path("accounts/sessions/<int:session_id>/revoke/", views.session_revoke_view, name="session_revoke"),
    path("accounts/sessions/revoke-others/", views.sessions_revoke_others_view, name="sessions_revoke_others"),
    path("accounts/data/", views.data_view, name="data"),
    path("accounts/data/export/", views.data_export_view, name="data_export"),
    path("accounts/delete/", views.account_delete_view, name="delete"),
    path("people/", views_people.people_view, name="people"),
    path("people/<int:user_id>/", views_people.person_view, name="person"),
    path("teams/", views.teams_view, name="teams"),
    path("teams/new/", views.team_create_view, name="team_create"),
    path("teams/<slug:slug>/", views.team_view, name="team"),
    path("teams/<slug:slug>/invite/", views.team_invite_view, name="team_invite"),
    path(
        "teams/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke_view,
        name="invitation_revoke",
    ),
    path("teams/<slug:slug>/members/<int:user_id>/role/", views.member_role_view, name="member_role"),
    path("teams/<slug:slug>/members/<int:user_id>/remove/", views.member_remove_view, name="member_remove"),
    path("teams/<slug:slug>/leave/", views.team_leave_view, name="team_leave"),
    path("teams/<slug:slug>/permissions/", views.team_permissions_view, name="team_permissions"),
    path("invitations/<str:token>/", views.invitation_view, name="invitation"),
]
