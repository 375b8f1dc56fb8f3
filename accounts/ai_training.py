"""An author's say on AI training: whether their posts may be used to train AI models.

One function answers the question for an author (``ai_training_allowed``), and one query
condition asks it of many rows in the database (``ai_training_allowed_q``), so the response
signals (``access/content_usage.py``), the API entities and the licensed lane agree; one
service changes it, from the settings page and ``PATCH /api/v1/accounts/update_credentials``.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q

from .models import User

ALLOW = "allow"
DISALLOW = "disallow"
DEFAULT = "default"
CHOICES = (ALLOW, DISALLOW, DEFAULT)


def site_default_allowed() -> bool:
    """The site's answer for authors who have not chosen (``AI_TRAINING_DEFAULT``)."""
    return settings.AI_TRAINING_DEFAULT == ALLOW


def ai_training_allowed(user) -> bool:
    """Whether ``user``'s posts may train AI models: their own choice, else the site default."""
    choice = getattr(user, "ai_training_allowed", None)
    return site_default_allowed() if choice is None else bool(choice)


def ai_training_allowed_q(*, via: str = "") -> Q:
    """``ai_training_allowed`` as a query condition on users, or on rows that reach the author
    through ``via`` (``"author__"`` for posts): the author allows, or has not chosen and the
    site's default allows. Read in the query, so a change of choice applies to the next one."""
    allows = Q(**{f"{via}ai_training_allowed": True})
    if site_default_allowed():
        allows |= Q(**{f"{via}ai_training_allowed__isnull": True})
    return allows


def ai_training_choice(user) -> str:
    """The author's stored choice as a word: "allow", "disallow" or "default"."""
    choice = user.ai_training_allowed
    if choice is None:
        return DEFAULT
    return ALLOW if choice else DISALLOW


def ai_training_choice_validate(*, choice: str) -> None:
    """Refuse a word that is not one of ``CHOICES``; callers that change more than the choice
    ask first, so nothing else is stored for a request that will be refused."""
    if choice not in CHOICES:
        raise ValidationError(
            f'ai_training must be one of "{ALLOW}", "{DISALLOW}" or "{DEFAULT}".',
            code="invalid",
        )


def user_ai_training_set(*, user: User, choice: str) -> User:
    """Record the author's choice ("allow", "disallow" or "default" for the site's)."""
    ai_training_choice_validate(choice=choice)
    user.ai_training_allowed = {ALLOW: True, DISALLOW: False, DEFAULT: None}[choice]
    user.save(update_fields=["ai_training_allowed"])
    return user


def any_author_disallows() -> bool:
    """Whether some account's posts may not train AI models (their choice or the default)."""
    return User.objects.exclude(ai_training_allowed_q()).exists()
