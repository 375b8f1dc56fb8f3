"""Access-log records for requests refused by a request-rate limit.

The read gate writes a record for every pass, refusals included; a request refused by a
request-rate limit (the API's "api"/"paging"/"post"/"follow" groups, the web's "paging")
never reaches the gate, so without this it left no trace and the detectors, "ignoring 429s"
first, could not see a client hammering on through its 429s. The record is the gate's shape
with ``status`` 429, nothing delivered, charged or refused (no posts were asked of the
ledger) and ``remaining`` empty (the ledger was not consulted).

It is written the way the gate writes its records: with the Redis ledger, one XADD to the
reader's access-log stream (the drain moves it into the database, acknowledged after the
commit); with Redis unreachable, or on the embedded default, an INSERT. A 429 is the path a
client ignoring its 429s hammers, so it should cost the database nothing (docs/performance.md).
"""

import logging

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from accounts.selectors import effective_tier
from core.client_ip import reader_principal

from .access_log import STATUS_REFUSED, RecordOutcome, access_log_write, access_record_build
from .gate import MODE_OFF
from .ledgers import LedgerUnavailable, RedisLedger, ledger_get

logger = logging.getLogger(__name__)


def rate_limited_record(*, request) -> None:
    """Write the access-log record of a request refused by a request-rate limit (the 429 is
    sent whether or not the record could be written; a failure is logged)."""
    mode = settings.ACCESS_ENFORCEMENT
    if mode == MODE_OFF:
        return  # benchmarks: the gate writes nothing either
    tier = effective_tier(getattr(request, "user", None))
    record = access_record_build(
        request=request,
        principal=reader_principal(request),
        tier=tier.slug,
        mode=mode,
        limit=tier.daily_read_budget,
        now=timezone.now(),
    )
    outcome = RecordOutcome(
        status=STATUS_REFUSED, delivered=0, newly_charged=0, refused=0, remaining=None
    )
    ledger = ledger_get()
    if isinstance(ledger, RedisLedger):
        try:
            ledger.record_append(record=record, outcome=outcome)
            return
        except LedgerUnavailable:
            logger.warning("access log: Redis unreachable, a request-rate 429 goes to the database")
    try:
        access_log_write(record=record, outcome=outcome)
    except DatabaseError:
        logger.exception("access log: could not record a request-rate 429 for %s", request.path)
