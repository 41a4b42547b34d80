""" "Your sessions": where the person is signed in, and signing sessions out."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors
from accounts.services.sessions import session_revoke, sessions_revoke_others
from accounts.services.signin import sign_out
from accounts.sessions import SID_KEY, sid_hash


@login_required
@require_GET
def sessions_view(request: HttpRequest) -> HttpResponse:
    current = request.session.get(SID_KEY)
    current_hash = sid_hash(current) if current else ""
    rows = list(selectors.sessions_active_for_user(request.user))
    return render(request, "accounts/sessions.html", {"sessions": rows, "current_hash": current_hash})


@login_required
@require_POST
def session_revoke_view(request: HttpRequest, session_id: int) -> HttpResponse:
    was_current = session_revoke(user=request.user, session_id=session_id, current_sid=request.session.get(SID_KEY))
    if was_current:
        sign_out(request)
        return redirect("accounts:login")
    messages.success(request, "That session was signed out.")
    return redirect("accounts:sessions")


@login_required
@require_POST
def sessions_revoke_others_view(request: HttpRequest) -> HttpResponse:
    ended = sessions_revoke_others(user=request.user, current_sid=request.session.get(SID_KEY))
    messages.success(request, f"{ended} other session{'s' if ended != 1 else ''} signed out.")
    return redirect("accounts:sessions")
