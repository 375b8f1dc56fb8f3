"""Pages for personal access tokens (the settings "Developer" tab)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .selectors import token_list as token_list_select


@login_required
def token_list(request):
    """List the user's tokens."""
    return render(request, "accounts/tokens.html", {"tokens": token_list_select(user=request.user)})
