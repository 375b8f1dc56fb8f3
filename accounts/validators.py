"""Validation rules for usernames, shared by forms, services and the API."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,30}$")


def validate_username(value: str) -> None:
    """Refuse usernames that are not 1-30 ASCII letters, digits or underscores, or reserved."""
    if not USERNAME_RE.fullmatch(value or ""):
        raise ValidationError(
            "Usernames are 1 to 30 characters: ASCII letters, digits and underscores only.",
            code="invalid_username",
        )
    if value.lower() in settings.RESERVED_USERNAMES:
        raise ValidationError("That username is reserved. Please pick another.", code="reserved")
