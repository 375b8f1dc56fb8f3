"""Writes for the licensed lane: binding tokens to a licence, and delivering licensed posts
against its monthly quota with a signed receipt. Buying and keeping a licence (checkout,
renewals, cancellation) is ``licensing/billing.py``."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from access.delivered import delivered_ids_add
from access.gate import metered_charge, window_day
from access.ledgers import ChargeResult
from accounts.ai_training import ai_training_allowed
from accounts.models import ApiToken
from accounts.services import token_create

from .models import Licence, LicenceToken, Receipt
from .quota import month_reset_at, quota_ledger_get
from .receipts import receipt_sign

LICENCE_TOKEN_SCOPES = ["read"]


@dataclass(frozen=True)
class LicensedDelivery:
    """What one licensed request delivered, where the licence stands, and its receipt."""

    posts: list
    quota: int
    used: int
    reset_at: datetime
    receipt: str  # compact, "<payload>.<signature>"; "" when nothing was delivered
    receipt_id: str = ""
    ledger_unavailable: bool = False  # refused because the quota ledger could not be reached

    @property
    def remaining(self) -> int:
        return max(self.quota - self.used, 0)


class LicenceQuotaExhausted(Exception):
    """The licence's monthly quota is spent: nothing more until the 1st (UTC)."""

    def __init__(self, delivery: LicensedDelivery):
        super().__init__("Monthly licence quota exhausted")
        self.delivery = delivery


@transaction.atomic
def licence_token_create(*, licence: Licence, name: str) -> tuple[ApiToken, str]:
    """A read-only API token bound to ``licence`` (the raw secret is shown once)."""
    if not licence.is_usable():
        raise ValidationError("Tokens can only be created for an active licence.", code="inactive")
    token, raw = token_create(user=licence.user, name=name, scopes=LICENCE_TOKEN_SCOPES)
    LicenceToken.objects.create(licence=licence, token=token)
    return token, raw


def licensed_deliver(*, request, licence: Licence, posts: list) -> LicensedDelivery:
    """Charge a page of licensable posts to ``licence`` and sign a receipt for what goes out.

    Only posts whose authors allow AI training *now* are delivered (the author's choice is
    checked again here, after the page was read); each is charged once per UTC day against
    the plan's monthly quota, exactly, on the configured ledger — through the read gate's
    machinery (``access.gate.metered_charge``), which honours ``ACCESS_ENFORCEMENT`` and has
    the ledger write the access-log record (with its provenance) in the charge's own
    transaction or script. Raises ``LicenceQuotaExhausted`` when the page had posts and none
    could go out (the quota is spent, or its ledger is unreachable: it fails closed).
    """
    now = timezone.now()
    day = window_day(now)
    plan = licence.plan
    posts = [post for post in posts if ai_training_allowed(post.author)]
    ledger = quota_ledger_get()

    def charge(*, ids: list[int], limit: int | None, record) -> ChargeResult:
        return ledger.charge(
            licence_id=licence.pk, day=day, quota=limit, post_ids=ids, record=record
        )

    grant = metered_charge(
        request=request,
        principal=f"licence:{licence.pk}",
        tier=f"licensed:{plan.slug}"[:30],
        limit=plan.monthly_post_quota,
        post_ids=[post.pk for post in posts],
        charge=charge,
        now=now,
        reset_at=month_reset_at(day),
    )
    allowed = set(grant.delivered_ids)
    delivered = [post for post in posts if post.pk in allowed]
    # The licence's quota is this lane's gate: what it let out may be serialized, nothing else.
    delivered_ids_add(request, [post.pk for post in delivered])
    receipt, receipt_id = "", ""
    if delivered:
        receipt_id = uuid.uuid4().hex
        payload = {
            "receipt_id": receipt_id,
            "issued_at": now.isoformat().replace("+00:00", "Z"),
            "server": request.get_host(),
            "licence": licence.pk,
            "licensee": licence.user.username,
            "plan": plan.slug,
            "terms": request.build_absolute_uri(reverse("content_usage:tdm_policy")),
            "post_ids": [post.pk for post in delivered],
        }
        receipt, body, signature = receipt_sign(payload)
        Receipt.objects.create(
            receipt_id=receipt_id,
            licence=licence,
            issued_at=now,
            post_ids=payload["post_ids"],
            payload=body,
            signature=signature,
            key_id=json.loads(body)["key_id"],
        )
    delivery = LicensedDelivery(
        posts=delivered,
        quota=plan.monthly_post_quota,
        used=grant.used,
        reset_at=grant.reset_at,
        receipt=receipt,
        receipt_id=receipt_id,
        ledger_unavailable=grant.ledger_unavailable,
    )
    if grant.refused or (posts and not delivered):
        raise LicenceQuotaExhausted(delivery)
    return delivery
