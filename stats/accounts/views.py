"""Login, logout and sign-up. Thin wrappers of Django's auth views: the forms, the password
checks and the safe handling of `next` (this site's own URLs only) are Django's."""

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView, LogoutView, RedirectURLMixin
from django.http import Http404
from django.shortcuts import resolve_url
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic.edit import FormView


class AccountLoginView(LoginView):
    template_name = "accounts/login.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(signup_enabled=settings.ACCOUNTS_SIGNUP, **kwargs)


class AccountLogoutView(LogoutView):
    """POST only (Django 5): a link or an image on another page cannot log anyone out."""


@method_decorator(login_not_required, name="dispatch")
@method_decorator([sensitive_post_parameters(), csrf_protect, never_cache], name="dispatch")
class SignupView(RedirectURLMixin, FormView):
    """A new account, logged in at once and sent on to `next` (or LOGIN_REDIRECT_URL)."""

    template_name = "accounts/signup.html"
    form_class = UserCreationForm

    def dispatch(self, request, *args, **kwargs):
        if not settings.ACCOUNTS_SIGNUP:
            raise Http404("sign-up is off")
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self):
        return resolve_url(settings.LOGIN_REDIRECT_URL)

    def get_context_data(self, **kwargs):
        return super().get_context_data(**{self.redirect_field_name: self.get_redirect_url(), **kwargs})

    def form_valid(self, form):
        login(self.request, form.save())
        return super().form_valid(form)
