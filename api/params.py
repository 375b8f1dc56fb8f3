"""Parsing of the API's query and body parameters: ids, limits and booleans, Mastodon-style.

Anything malformed becomes a ``ValidationError`` (400/422 with a sentence), never a 500.
"""

import re

from rest_framework.exceptions import NotFound, ValidationError

# ASCII digits only: str.isdigit() also accepts "١٢" and "²", which int() then mis-handles.
# No leading zeros: an id is written one way, as the API itself writes it.
_ID_RE = re.compile(r"[1-9][0-9]{0,18}", re.ASCII)
MAX_ID = 2**63 - 1  # the largest value a BigAutoField (and PostgreSQL bigint) holds
# What the OpenAPI schema promises an id looks like: at most 18 digits, so every id matching
# it is below MAX_ID (a pattern cannot state the 2**63 - 1 bound itself).
ID_SCHEMA = {"type": "string", "pattern": r"^[1-9][0-9]{0,17}$"}
# A cursor (max_id, since_id, min_id) may also be sent empty, meaning "not given".
CURSOR_SCHEMA = {"type": "string", "pattern": r"^([1-9][0-9]{0,17})?$"}

TRUE_VALUES = {"1", "true", "t", "on", "yes"}
FALSE_VALUES = {"0", "false", "f", "off", "no"}


def id_parse(value: object) -> int | None:
    """An id as the API spells it (a string of digits, or a JSON integer), or None if malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):  # JSON's 50.0 is the integer 50 (JSON Schema agrees)
        if not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def path_id(value: str) -> int:
    """An id taken from the URL; a malformed one names no record, so it is a 404."""
    number = id_parse(value)
    if number is None:
        raise NotFound("Record not found")
    return number


def query_id(params, name: str) -> int | None:
    """An optional id query parameter (``max_id``, ``since_id``, ``min_id``)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    number = id_parse(raw)
    if number is None:
        raise ValidationError(f"{name} must be a status or record id (a positive whole number).")
    return number


def query_limit(params, *, default: int, maximum: int) -> int:
    """``limit``: default when absent, clamped to ``maximum`` as Mastodon does; 0, negative or
    non-numeric values are refused."""
    raw = params.get("limit")
    if raw is None:
        return default
    if not isinstance(raw, str) or not re.fullmatch(r"[0-9]+", raw, re.ASCII):
        raise ValidationError(f"limit must be a whole number from 1 to {maximum}.")
    # Any larger number is clamped anyway; int() of thousands of digits would be refused.
    number = int(raw) if len(raw) <= 9 else maximum
    if number < 1:
        raise ValidationError(f"limit must be a whole number from 1 to {maximum}.")
    return min(number, maximum)


def query_bool(params, name: str, default: bool = False) -> bool:
    """A boolean flag as Mastodon clients send it ("true", "1", "false", "0")."""
    raw = params.get(name)
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ValidationError(f"{name} must be true or false.")
