"""Forms for the account pages. They check the shape of input; the services decide the rules."""

from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.core.exceptions import ValidationError

from .selectors import users_by_mailbox
from .validators import validate_username


def add_service_errors(form: forms.Form, exc: ValidationError, *, field: str | None = None) -> None:
    """Show a service's ValidationError on the form: per field when the error names fields the
    form has, on ``field`` (or the whole form) otherwise."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(field, exc)


class SignupForm(forms.Form):
    """Sign-up: username, email and a password typed twice."""

    username = forms.CharField(
        max_length=30,
        validators=[validate_username],
        help_text="1–30 characters: letters, digits and underscores.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(
        max_length=254,  # the column's length: longer addresses are refused here, not by the DB
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        help_text="At least 8 characters; not a common or all-numeric password.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords do not match.")
        return cleaned


class ProfileForm(forms.Form):
    """The public profile: display name, bio, avatar and header (``accounts.profiles``)."""

    display_name = forms.CharField(
        max_length=50,
        required=False,
        help_text="Shown next to your @username. Up to 50 characters.",
    )
    bio = forms.CharField(
        max_length=160,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Up to 160 characters.",
    )
    avatar = forms.FileField(
        required=False,
        help_text="JPEG, PNG, WebP or GIF, up to 2 MB; shown 400×400. Location data is removed.",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}
        ),
    )
    header = forms.FileField(
        required=False,
        help_text="JPEG, PNG, WebP or GIF, up to 2 MB; shown 1500×500.",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}
        ),
    )
    avatar_remove = forms.BooleanField(required=False, label="Remove my avatar")
    header_remove = forms.BooleanField(required=False, label="Remove my header image")


class EmailChangeForm(forms.Form):
    """A new email address for the account (``user_email_change`` decides whether it is free)."""

    email = forms.EmailField(
        label="New email address",
        max_length=254,
        help_text="We send a link to confirm it. One account per mailbox.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class EmailChangeWithPasswordForm(EmailChangeForm):
    """The settings "Email" tab: a new address and the current password, the proof that the
    account's owner asks (a stolen session alone cannot move the account to another inbox)."""

    current_password = forms.CharField(
        label="Current password",
        strip=False,
        help_text="To make sure it is you.",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class PasswordResetRequestForm(PasswordResetForm):
    """ "Forgot your password?": the address to send a reset link to.

    The link goes to the account whose mailbox (``email_canonical``) the address names, at the
    address that account has (Sam+x@Example.com finds sam@example.com's account and mails
    sam@example.com); nothing tells the visitor whether there was one.
    """

    email = forms.EmailField(
        label="Your email address",
        max_length=254,
        help_text="The address of your account. We send a link to reset your password there.",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def get_users(self, email):
        """Active accounts with a usable password behind this address's mailbox (or, for an
        account whose ``email_canonical`` is blank, this exact address)."""
        query = users_by_mailbox(email).filter(is_active=True)
        return [user for user in query if user.has_usable_password()]
