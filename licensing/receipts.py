"""Signed receipts for licensed deliveries: Ed25519 (PyNaCl, libsodium) over canonical JSON.

A receipt is ``<payload>.<signature>``, both base64url without padding; the payload is the
JSON of ``{"v", "receipt_id", "issued_at", "server", "licence", "licensee", "plan", "terms",
"post_ids", "key_id"}`` with sorted keys and no spaces. Anyone holding the published public
key (``/licensing/receipt-key.json``) can check one offline (docs/licensing.md).

The signing key is ``LICENSING_SIGNING_KEY`` (32 random bytes, base64); without it a key is
derived from ``SECRET_KEY``, so a development server signs consistently across restarts.
"""

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

RECEIPT_VERSION = 1


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@cache
def signing_key() -> SigningKey:
    """The server's receipt key (one per process)."""
    configured = settings.LICENSING_SIGNING_KEY
    if configured:
        seed = base64.b64decode(configured)
    else:
        seed = hashlib.sha256(b"licensing-receipts\0" + settings.SECRET_KEY.encode()).digest()
    return SigningKey(seed)


def public_key_b64() -> str:
    return b64url(bytes(signing_key().verify_key))


def key_id_of(public_key: bytes) -> str:
    """A short name for a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def key_id() -> str:
    return key_id_of(bytes(signing_key().verify_key))


def canonical_json(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def receipt_sign(payload: dict) -> tuple[str, str, str]:
    """Sign ``payload`` (key id added): returns (compact receipt, payload text, signature)."""
    payload = {**payload, "v": RECEIPT_VERSION, "key_id": key_id()}
    body = canonical_json(payload)
    signature = signing_key().sign(body).signature
    return f"{b64url(body)}.{b64url(signature)}", body.decode(), b64url(signature)


@dataclass(frozen=True)
class ReceiptCheck:
    """The outcome of checking one receipt."""

    valid: bool
    payload: dict | None
    reason: str = ""


def receipt_verify(compact: str, *, public_key: str | None = None) -> ReceiptCheck:
    """Check a compact receipt against ``public_key`` (base64url; default: this server's)."""
    try:
        body_b64, signature_b64 = compact.strip().split(".")
        body, signature = b64url_decode(body_b64), b64url_decode(signature_b64)
        key_bytes = b64url_decode(public_key) if public_key else bytes(signing_key().verify_key)
        VerifyKey(key_bytes).verify(body, signature)
    except BadSignatureError:
        return ReceiptCheck(False, None, "the signature does not match: altered or another key")
    except (ValueError, TypeError) as exc:
        return ReceiptCheck(False, None, f"not a receipt ({exc})")
    payload = json.loads(body)
    return ReceiptCheck(True, payload)
