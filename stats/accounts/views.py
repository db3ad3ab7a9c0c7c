"""Login, logout and sign-up. Thin wrappers of Django's auth views: the forms, the password
checks and the safe handling of `next` (this site's own URLs only) are Django's."""

import math
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView, LogoutView, RedirectURLMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render, resolve_url
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic.edit import FormView

from stats import ratelimit
from stats.accounts.names import username_confusable_check


class AccountLoginView(LoginView):
    template_name = "accounts/login.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(signup_enabled=settings.ACCOUNTS_SIGNUP, **kwargs)

    def form_invalid(self, form):
        if getattr(self.request, "axes_locked_out", False):
            # axes' middleware answers with the 429 page instead (stats.accounts.throttle): not
            # rendering the form as well halves what a refused attempt costs (~5 -> ~2.5 ms).
            return HttpResponse(status=429)
        return super().form_invalid(form)


class AccountLogoutView(LogoutView):
    """POST only (Django 5): a link or an image on another page cannot log anyone out."""


class SignupForm(UserCreationForm):
    def clean_username(self):
        username = super().clean_username()  # NFKC-normalised by Django's UsernameField; None when taken
        if username:
            try:
                username_confusable_check(username)
            except ValidationError as exc:
                self.add_error("username", exc)
        return username


@method_decorator(login_not_required, name="dispatch")
@method_decorator([sensitive_post_parameters(), csrf_protect, never_cache], name="dispatch")
class SignupView(RedirectURLMixin, FormView):
    """A new account, logged in at once and sent on to `next` (or LOGIN_REDIRECT_URL)."""

    template_name = "accounts/signup.html"
    form_class = SignupForm

    def dispatch(self, request, *args, **kwargs):
        if not settings.ACCOUNTS_SIGNUP:
            raise Http404("sign-up is off")
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self):
        return resolve_url(settings.LOGIN_REDIRECT_URL)

    def get_context_data(self, **kwargs):
        return super().get_context_data(**{self.redirect_field_name: self.get_redirect_url(), **kwargs})

    def form_valid(self, form):
        # Counted only for a form that would make an account (and hash its password).
        wait = ratelimit.signup_retry_after(address=ratelimit.request_address(self.request))
        if wait is not None:
            return signup_refused(self.request, wait)
        # Named: with axes' backend listed too, login() cannot pick one by itself.
        login(self.request, form.save(), backend="django.contrib.auth.backends.ModelBackend")
        return super().form_valid(form)


def signup_refused(request, seconds: int):
    """The site's 429 page for one address making accounts too fast (SIGNUP_RATE per SIGNUP_WINDOW)."""
    context = {
        "reason": "Too many accounts were made from this address.",
        "retry_seconds": seconds,
        "retry_minutes": math.ceil(seconds / 60),
        "retry_at": timezone.now().replace(microsecond=0) + timedelta(seconds=seconds),
    }
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
