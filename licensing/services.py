"""Writes for the licensed lane: buying a data plan, binding tokens to it, and delivering
licensed posts against its monthly quota with a signed receipt."""

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from access.access_log import access_log_write, access_record_build, record_outcome
from access.delivered import delivered_ids_add
from access.gate import MODE_ENFORCE, window_day
from accounts.ai_training import ai_training_allowed
from accounts.models import ApiToken, User
from accounts.services import token_create
from verification.payments import PaymentProviderError, payment_provider

from .models import DataPlan, Licence, LicenceToken, Receipt
from .quota import month_reset_at, quota_ledger_get
from .receipts import receipt_sign
from .stripe_checkout import licence_stripe_checkout_start, licence_stripe_session_paid

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

    @property
    def remaining(self) -> int:
        return max(self.quota - self.used, 0)


class LicenceQuotaExhausted(Exception):
    """The licence's monthly quota is spent: nothing more until the 1st (UTC)."""

    def __init__(self, delivery: LicensedDelivery):
        super().__init__("Monthly licence quota exhausted")
        self.delivery = delivery


def licence_checkout_start(*, user: User, plan: DataPlan, request=None) -> tuple[Licence, str]:
    """Start buying ``plan``: open a pending licence and return the provider URL.

    The dev provider's TEST MODE page, or a Stripe Checkout Session (``request`` makes its
    return URLs absolute).
    """
    if not plan.is_active:
        raise ValidationError("This data plan is not on sale.", code="plan_inactive")
    provider = payment_provider()
    # Only the newest checkout can be paid: a second tab or a double click must not buy twice.
    Licence.objects.filter(user=user, status=Licence.Status.PENDING).update(
        status=Licence.Status.CHECKOUT_CANCELED, ended_at=timezone.now()
    )
    licence = Licence.objects.create(
        user=user, plan=plan, provider=provider.name, checkout_ref=secrets.token_urlsafe(24)
    )
    if provider.name == Licence.PROVIDER_DEV:
        return licence, reverse("licensing:dev_checkout", kwargs={"ref": licence.checkout_ref})
    if provider.name != Licence.PROVIDER_STRIPE:
        raise ValidationError("Data plans cannot be bought right now.", code="no_provider")

    def absolute(path: str) -> str:
        return request.build_absolute_uri(path) if request is not None else path

    return_path = reverse("licensing:stripe_return", kwargs={"ref": licence.checkout_ref})
    try:
        url = licence_stripe_checkout_start(
            licence=licence,
            success_url=absolute(return_path) + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=absolute(reverse("licensing:plans")) + "?checkout=cancelled",
        )
    except PaymentProviderError as exc:
        licence.status = Licence.Status.CHECKOUT_CANCELED
        licence.save(update_fields=["status"])
        raise ValidationError(str(exc), code="provider_error") from exc
    return licence, url


def licence_stripe_return(*, licence: Licence, session_id: str) -> Licence:
    """The buyer is back from Stripe Checkout: activate the licence once Stripe says paid."""
    if licence.is_active:
        return licence  # a reload of the return page
    if licence.status != Licence.Status.PENDING:
        raise ValidationError("This checkout is no longer open.", code="not_pending")
    try:
        paid = licence_stripe_session_paid(licence=licence, session_id=session_id)
    except PaymentProviderError as exc:
        raise ValidationError(str(exc), code="provider_error") from exc
    if not paid:
        raise ValidationError(
            "The payment has not been confirmed. If you paid, reload this page in a minute.",
            code="not_paid",
        )
    return licence_activate(licence=licence)


def licence_dev_checkout_complete(*, licence: Licence, outcome: str) -> Licence:
    """The TEST MODE checkout's buttons: "pay" activates the licence, "cancel" drops it."""
    if licence.status != Licence.Status.PENDING:
        raise ValidationError("This checkout is no longer open.", code="not_pending")
    if outcome == "pay":
        return licence_activate(licence=licence)
    if outcome == "cancel":
        licence.status = Licence.Status.CHECKOUT_CANCELED
        licence.ended_at = timezone.now()
        licence.save(update_fields=["status", "ended_at"])
        return licence
    raise ValidationError('outcome must be "pay" or "cancel".', code="invalid")


def licence_activate(*, licence: Licence) -> Licence:
    """The payment went through: the licence may be used from now on."""
    licence.status = Licence.Status.ACTIVE
    licence.activated_at = timezone.now()
    licence.save(update_fields=["status", "activated_at"])
    return licence


def licence_end(*, licence: Licence) -> Licence:
    """End a licence: its tokens stop working at the licensed endpoint; receipts stay valid."""
    licence.status = Licence.Status.ENDED
    licence.ended_at = timezone.now()
    licence.save(update_fields=["status", "ended_at"])
    return licence


@transaction.atomic
def licence_token_create(*, licence: Licence, name: str) -> tuple[ApiToken, str]:
    """A read-only API token bound to ``licence`` (the raw secret is shown once)."""
    if not licence.is_active:
        raise ValidationError("Tokens can only be created for an active licence.", code="inactive")
    token, raw = token_create(user=licence.user, name=name, scopes=LICENCE_TOKEN_SCOPES)
    LicenceToken.objects.create(licence=licence, token=token)
    return token, raw


def licensed_deliver(*, request, licence: Licence, posts: list) -> LicensedDelivery:
    """Charge a page of licensable posts to ``licence`` and sign a receipt for what goes out.

    Only posts whose authors allow AI training *now* are delivered (the author's choice is
    checked again here, after the page was read); each is charged once per UTC day against
    the plan's monthly quota, exactly, on the configured ledger. Raises
    ``LicenceQuotaExhausted`` when the page had posts and none could go out. The delivery is
    written to the access log like every other read.
    """
    now = timezone.now()
    day = window_day(now)
    plan = licence.plan
    posts = [post for post in posts if ai_training_allowed(post.author)]
    ids = [post.pk for post in posts]
    result = quota_ledger_get().charge(
        licence_id=licence.pk, day=day, quota=plan.monthly_post_quota, post_ids=ids
    )
    allowed = set(result.delivered_ids)
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
    _access_log(request, licence, now, requested=len(ids), result=result)
    delivery = LicensedDelivery(
        posts=delivered,
        quota=plan.monthly_post_quota,
        used=result.used,
        reset_at=month_reset_at(day),
        receipt=receipt,
        receipt_id=receipt_id,
    )
    if ids and not delivered:
        raise LicenceQuotaExhausted(delivery)
    return delivery


def _access_log(request, licence: Licence, now, *, requested: int, result) -> None:
    """One access-log record per licensed request, with its delivery provenance, as the read
    gate writes for every read."""
    record = access_record_build(
        request=request,
        principal=f"licence:{licence.pk}",
        tier=f"licensed:{licence.plan.slug}"[:30],
        mode=MODE_ENFORCE,
        limit=licence.plan.monthly_post_quota,
        now=now,
    )
    outcome = record_outcome(
        record,
        requested=requested,
        delivered=len(result.delivered_ids),
        charged=len(result.charged_ids),
        used=result.used,
    )
    # With its provenance, as every read has (access/provenance.py): the posts this licence
    # took for the first time today, so a leak trace can tell licensed copies from harvests.
    access_log_write(record=record, outcome=outcome, post_ids=list(result.charged_ids))
