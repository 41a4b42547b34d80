"""Signing in and out, registering and confirming the address, changing and resetting the password."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.devices import device_cookie_set
from accounts.forms import EmailPasswordResetForm, RegisterForm, ResendVerificationForm, SignInForm
from accounts.middleware import NOTICE_KEY
from accounts.ratelimit import throttle_hit
from accounts.services.registration import email_verify, email_verify_check, user_register, verification_resend
from accounts.services.sessions import sessions_after_password_change, sessions_after_password_reset
from accounts.services.signin import sign_in, sign_out
from taskforge.errors import RateLimited, ServiceError, form_refusal, refusal_headers
from taskforge.middleware import client_ip
from taskforge.params import redirect_target

# --- sign-in / out ------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = redirect_target(request, reverse(settings.LOGIN_REDIRECT_URL))
    notice = request.session.pop(NOTICE_KEY, None)
    if request.method == "GET" and request.user.is_authenticated:
        return redirect(next_url)
    form = SignInForm(request.POST or None)
    context = {"next": next_url, "notice": notice, "unverified": False}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "accounts/login.html", {**context, "form": form}, status=400)
        try:
            user = sign_in(request, email=form.cleaned_data["email"], password=form.cleaned_data["password"])
        except ServiceError as exc:
            status = form_refusal(form, exc)
            context["unverified"] = exc.status == 403
            return refusal_headers(
                render(request, "accounts/login.html", {**context, "form": form}, status=status), exc
            )
        response = HttpResponseRedirect(next_url)
        device_cookie_set(response, user)  # this browser is now trusted for the account
        return response
    return render(request, "accounts/login.html", {**context, "form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    sign_out(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


# --- registration / verification -----------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:profile")
    form = RegisterForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "accounts/register.html", {"form": form}, status=400)
        data = form.cleaned_data
        try:
            user_register(
                email=data["email"],
                password=data["password1"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                ip=client_ip(request),
            )
        except ServiceError as exc:
            status = form_refusal(form, exc)
            return refusal_headers(render(request, "accounts/register.html", {"form": form}, status=status), exc)
        # Same answer whether or not the address already had an account.
        return render(request, "accounts/register_done.html", {"email": data["email"]})
    return render(request, "accounts/register.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the link's page with a button; only the button's POST (with its CSRF token)
    confirms. Mail scanners and link previews open links by themselves: a GET must not
    confirm an address its owner never saw."""
    if request.method == "POST":
        email_verify(token=token)
        return render(request, "accounts/verify.html", {"verified": True})
    email_verify_check(token=token)
    return render(request, "accounts/verify.html", {"confirm": True})


@require_http_methods(["GET", "POST"])
def verify_resend_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "accounts/verify.html", {"form": ResendVerificationForm()})
    form = ResendVerificationForm(request.POST)
    if not form.is_valid():
        return render(request, "accounts/verify.html", {"form": form}, status=400)
    try:
        verification_resend(email=form.cleaned_data["email"], ip=client_ip(request))
    except ServiceError as exc:
        status = form_refusal(form, exc)
        return refusal_headers(render(request, "accounts/verify.html", {"form": form}, status=status), exc)
    return render(request, "accounts/register_done.html", {"email": form.cleaned_data["email"], "resent": True})


# --- passwords ---------------------------------------------------------------------------------


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)  # saves, keeps this session (update_session_auth_hash)
        ended = sessions_after_password_change(self.request, self.request.user)
        messages.success(
            self.request,
            "Your password was changed."
            + (f" {ended} other session{'s' if ended != 1 else ''} signed out." if ended else ""),
        )
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    form_class = EmailPasswordResetForm
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        wait = max(
            throttle_hit(f"reset:ip:{client_ip(self.request)}", limit=10, window=3600),
            throttle_hit(f"reset:email:{form.cleaned_data['email'].lower()}", limit=3, window=3600),
        )
        if wait:
            exc = RateLimited("Too many reset requests. Try again later.", retry_after=wait)
            status = form_refusal(form, exc)
            return refusal_headers(self.render_to_response(self.get_context_data(form=form), status=status), exc)
        return super().form_valid(form)

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        sessions_after_password_reset(form.user)  # a reset signs the account out everywhere
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)
