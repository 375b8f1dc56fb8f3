"""What an email address means here: case-insensitive, and the mailbox behind its spellings.

Pure functions (no models), so the model's ``save`` and the selectors share them without
importing each other.
"""

import contextlib
import hashlib
import re

from django.contrib.auth.models import BaseUserManager
from django.http import HttpRequest

# Google's consumer mail ignores dots in the local part, and googlemail.com is gmail.com.
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
# A local part that needs no quotes (RFC 5322 dot-atom, lower case): '"sam"' is then just sam.
_DOT_ATOM_RE = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def email_normalize(email: str) -> str:
    """Lower-case the whole address: we treat emails as case-insensitive everywhere."""
    return BaseUserManager.normalize_email((email or "").strip()).lower()


def email_canonical(email: str) -> str:
    """The mailbox behind an address, so one person cannot farm accounts from one inbox.

    At most one account per canonical form. It is the address lower-cased, with
    - the domain in its ASCII (IDNA) spelling, without a trailing dot;
    - needless quotes dropped from the local part ('"sam"@x.com' is sam@x.com);
    - a "+tag" cut from the local part, for every domain (a+news@x.com is a@x.com): the few
      providers that deliver "+" literally only lose a second account per mailbox;
    - for gmail.com and googlemail.com: no dots in the local part, and the domain gmail.com.
    An empty address gives "". docs/security.md ("Sign-up farming") lists what is recognised.
    """
    address = email_normalize(email)
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    domain = domain.rstrip(".")
    # IDNA also folds width ("ｇｍａｉｌ.com" is delivered to gmail.com); a name it cannot
    # spell stays as it is (the form refuses those anyway).
    with contextlib.suppress(UnicodeError):
        domain = domain.encode("idna").decode("ascii").lower()
    if len(local) > 2 and local[0] == local[-1] == '"' and _DOT_ATOM_RE.fullmatch(local[1:-1]):
        local = local[1:-1]  # RFC 5322 §3.4.1: the same local part as the dot-atom inside
    untagged = local.split("+", 1)[0]
    local = untagged or local  # "+tag@…" has nothing before the tag: keep it whole
    if domain in GMAIL_DOMAINS:
        domain = "gmail.com"
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


def mailbox_ratelimit_key(request: HttpRequest) -> str | None:
    """The request-rate key "mailbox": the mailbox a form's ``email`` field names
    (``email_canonical``, so every spelling of one inbox shares a counter), hashed: no address
    is written to the cache. Registered with core's request-rate limits in accounts/apps.py."""
    if request.method != "POST":
        return None
    email = str(request.POST.get("email", "")).strip()[:320]
    if not email:
        return None
    return hashlib.sha256(email_canonical(email).encode()).hexdigest()
