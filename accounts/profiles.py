"""Editing one's public profile: display name, bio, avatar and header, all or nothing."""

import unicodedata

from django.core.exceptions import ValidationError
from django.db import transaction

from .images import ImageRefused, profile_image_delete, profile_image_store
from .models import User


def text_is_clean(value: str) -> bool:
    """False for control characters other than newline, tab and carriage return (NUL, which
    PostgreSQL refuses) and lone surrogates: no profile or post may hold them."""
    return not any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t\r" for ch in value)


def profile_update(
    *,
    user: User,
    display_name: str | None = None,
    bio: str | None = None,
    avatar=None,
    header=None,
    avatar_remove: bool = False,
    header_remove: bool = False,
) -> User:
    """Change what is given (None leaves a field as it is); nothing is kept if anything is
    refused. New images are stored first and deleted again if the change fails; the images
    they replace are deleted only after the change commits."""
    changed: list[str] = []
    stored: list[str] = []
    replaced: list[str] = []
    unclean = {
        field: ["Control characters (such as NUL) cannot be saved; remove them and try again."]
        for field, value in (("display_name", display_name), ("bio", bio))
        if value is not None and not text_is_clean(value)
    }
    if unclean:  # before anything is stored, for the page and the API alike
        raise ValidationError(unclean)
    try:
        if display_name is not None:
            user.display_name = display_name.strip()
            changed.append("display_name")
        if bio is not None:
            user.bio = bio.strip()
            changed.append("bio")
        # Field rules first (lengths), so a refused name never leaves a stored image behind.
        user.full_clean(
            exclude=[f.name for f in User._meta.fields if f.name not in changed],
            validate_unique=False,
            validate_constraints=False,
        )
        for field, upload, remove in (
            ("avatar", avatar, avatar_remove),
            ("header", header, header_remove),
        ):
            if upload is not None:
                try:
                    name = profile_image_store(upload=upload, kind=field)
                except ImageRefused as exc:
                    exc.field = field  # which upload, for the form to show it there
                    raise
                stored.append(name)
            elif remove:
                name = ""
            else:
                continue
            replaced.append(getattr(user, field))
            setattr(user, field, name)
            changed.append(field)
        if changed:
            with transaction.atomic():
                user.save(update_fields=changed)
    except Exception:  # refused or failed: put the stored images and the row back
        for name in stored:
            profile_image_delete(name)
        user.refresh_from_db()
        raise
    old = [name for name in replaced if name]
    if old:
        transaction.on_commit(lambda: [profile_image_delete(name) for name in old], robust=True)
    return user
