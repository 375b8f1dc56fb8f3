"""The settings "AI training" tab: may my posts be used to train AI models?"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .ai_training import (
    ALLOW,
    DEFAULT,
    DISALLOW,
    ai_training_allowed,
    ai_training_choice,
    site_default_allowed,
    user_ai_training_set,
)


class AiTrainingForm(forms.Form):
    """The author's choice: allow, disallow, or follow the site default."""

    choice = forms.ChoiceField(
        label="May your posts be used to train AI models?",
        widget=forms.RadioSelect,
        choices=[
            (DISALLOW, "No: my posts must not be used to train AI models"),
            (ALLOW, "Yes: my posts may be used to train AI models, and licensed for it"),
            (DEFAULT, "Use this server's default"),
        ],
    )


@login_required
@require_http_methods(["GET", "POST"])
def settings_ai_training(request):
    """Show and change the AI-training choice; it applies from the next response on."""
    user = request.user
    form = AiTrainingForm(request.POST or None, initial={"choice": ai_training_choice(user)})
    if request.method == "POST" and form.is_valid():
        user_ai_training_set(user=user, choice=form.cleaned_data["choice"])
        messages.success(request, "Your AI-training choice was saved.")
        return redirect("accounts:ai_training")
    context = {
        "form": form,
        "allowed": ai_training_allowed(user),
        "site_default_allowed": site_default_allowed(),
    }
    return render(request, "accounts/ai_training.html", context, status=400 if form.errors else 200)
