"""The grace a sale keeps when its renewal goes unpaid, for everything sold monthly
(verification, data plans)."""

from datetime import datetime, timedelta


def grace_end(
    *, days: int, period_end: datetime | None, failed_at: datetime | None = None
) -> datetime:
    """When the grace for an unpaid renewal runs out: ``days`` from the failed payment
    (``failed_at``) or from the paid period's end, whichever came first, so a late, missed or
    replayed webhook neither costs nor buys any grace. No failure reported: from the period's
    end. At least one of the two must be known."""
    starts = [when for when in (failed_at, period_end) if when is not None]
    return min(starts) + timedelta(days=days)


def period_paid(*, billed_to: datetime | None, paid_to: datetime | None) -> bool:
    """Whether an invoice for the period ending ``billed_to`` bills a period already paid
    (up to ``paid_to``): a failed attempt Stripe delivered after the retry that succeeded
    (it does not guarantee order), which must change nothing. Unknown dates: not paid."""
    return billed_to is not None and paid_to is not None and billed_to <= paid_to
