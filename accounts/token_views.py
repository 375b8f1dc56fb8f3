"""Pages for personal access tokens (the settings "Developer" tab).

A new token's secret is shown once, in the response to the form that created it, and never
stored: only its hash is kept. Tokens are listed with when and from where they were last
used, and revoked with a POST.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from .models import ApiToken
from .selectors import token_list as token_list_select
from .services import token_create, token_revoke


class TokenCreateForm(forms.Form):
    """Name a new token and choose what it may do."""

    name = forms.CharField(
        max_length=100, help_text="To recognise it later, e.g. “my phone” or “backup script”."
    )
    scopes = forms.MultipleChoiceField(
        choices=[
            (ApiToken.SCOPE_READ, "read — timelines, statuses, accounts"),
            (ApiToken.SCOPE_WRITE, "write — post, delete, follow, favourite, reblog"),
        ],
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiToken.SCOPE_READ],
        error_messages={"required": "Choose at least one scope: read and/or write."},
    )


def _page(request, *, form, new_token=None, new_raw=None, status=200):
    context = {
        "form": form,
        "tokens": token_list_select(user=request.user),
        "new_token": new_token,
        "new_raw": new_raw,
        "api_base": request.build_absolute_uri("/"),
    }
    return render(request, "accounts/tokens.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    """List the user's tokens and create a new one (its secret is shown on this response only)."""
    if request.method != "POST":
        return _page(request, form=TokenCreateForm())
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        token, raw = token_create(
            user=request.user, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return _page(request, form=form, status=400)
    return _page(request, form=TokenCreateForm(), new_token=token, new_raw=raw)


@login_required
@require_POST
def token_revoke_view(request, token_id: int):
    """Revoke one of the user's own tokens (someone else's is a 404)."""
    token = token_list_select(user=request.user).filter(pk=token_id).first()
    if token is None:
        raise Http404("No such token.")
    token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked. It stops working immediately.")
    return redirect("accounts:tokens")
