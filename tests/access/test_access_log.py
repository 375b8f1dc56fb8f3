"""Tests for the access log (DESIGN.md §4.5, issue 6): one append-only record per metered
request, written with the charge (same transaction / same Redis script), drained without loss
or duplicates, purged only by the retention purge, and the security events beside it."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from access.access_log import log_ip_prefix
from access.access_log_drain import DRAIN_GROUP, access_log_drain
from access.gate import ReadBudgetExhausted, posts_deliver, read_gate
from access.ledgers import RedisLedger
from access.models import AccessLogEntry, DeliveryProvenance
from access.services import access_log_purge
from accounts.models import Tier, User
from accounts.services import token_create, token_revoke
from core.models import AdminActionLog, SecurityEvent
from tests.factories import DEFAULT_PASSWORD, PostFactory, UserFactory
from verification.services import verification_grant

from .conftest import RedisServer


@pytest.fixture
def tiny():
    return Tier.objects.create(slug="tiny", name="Tiny", daily_read_budget=3)


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)


def stored(ledger=None) -> list[AccessLogEntry]:
    """Every record, oldest first, after draining the Redis stream the ledger writes to."""
    if isinstance(ledger, RedisLedger):
        access_log_drain(client=ledger.client, key_prefix=ledger.key_prefix, max_seconds=0)
    else:
        access_log_drain(max_seconds=0)  # the configured Redis, if any
    return list(AccessLogEntry.objects.order_by("pk"))


# --- One record per pass, with the right fields ---------------------------------------------


def test_each_pass_writes_one_record_with_the_outcome(gate_ledger, noon, make_request, tiny):
    """Ensures that every pass through the gate — delivered, cut and refused — writes one
    record with delivered, newly charged, refused, remaining and the gate's status."""
    reader = UserFactory(tier_override=tiny)
    read_gate(request=make_request(fresh(reader)), post_ids=[1, 2])
    read_gate(request=make_request(fresh(reader)), post_ids=[2, 3, 4])  # cut after 3
    read_gate(request=make_request(fresh(reader)), post_ids=[5])  # refused
    read_gate(request=make_request(fresh(reader)), post_ids=[1, 2, 3])  # re-reads: free
    read_gate(request=make_request(fresh(reader)), post_ids=[])  # an empty page is metered
    rows = stored(gate_ledger)
    outcome = [
        (r.status, r.delivered, r.newly_charged, r.refused, r.remaining, r.mode) for r in rows
    ]
    assert outcome == [
        (200, 2, 2, 0, 1, "enforce"),
        (200, 2, 1, 1, 0, "enforce"),
        (429, 0, 0, 1, 0, "enforce"),
        (200, 3, 0, 0, 0, "enforce"),
        (200, 0, 0, 0, 0, "enforce"),
    ]
    assert {(r.principal, r.user_id, r.tier) for r in rows} == {
        (f"user:{reader.pk}", reader.pk, "tiny")
    }
    assert len({r.record_id for r in rows}) == 5
    assert all(r.created_at == noon_time() for r in rows)


def noon_time():
    from .conftest import NOON

    return NOON


def test_record_of_a_web_page(gate_ledger, noon, client):
    """Ensures that a logged-out web page's record names the route, path, paging (not other
    query parameters), client IP, its /24 prefix, the (truncated) user agent and the
    anonymous principal."""
    posts = [PostFactory() for _ in range(3)]
    agent = "Mozilla/5.0 " + "x" * 400
    query = {"max_id": str(posts[-1].pk + 1), "limit": "5", "utm_source": "not recorded"}
    response = client.get("/public/", query, REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT=agent)
    assert response.status_code == 200
    (row,) = stored(gate_ledger)
    assert row.route_name == "feeds:public" and row.path == "/public/"
    assert row.paging == {"max_id": str(posts[-1].pk + 1), "limit": "5"}
    assert (row.client_ip, row.ip_prefix) == ("198.51.100.23", "198.51.100.0/24")
    assert row.principal == "ip:198.51.100.23/32" and row.user_id is None
    assert row.tier == "anonymous" and row.token_id is None
    assert row.user_agent == agent[:300]
    assert (row.delivered, row.newly_charged, row.remaining) == (3, 3, 97)


def test_paging_values_are_truncated(gate_ledger, noon, make_request):
    """Ensures that paging parameters are stored as strings, cut to 40 characters."""
    request = make_request(QUERY_STRING="")
    request.GET = request.GET.copy()
    request.GET.update({"max_id": "9" * 100, "since_id": "5", "other": "x"})
    read_gate(request=request, post_ids=[1])
    (row,) = stored(gate_ledger)
    assert row.paging == {"max_id": "9" * 40, "since_id": "5"}


def test_refused_web_page_record_matches_the_429(gate_ledger, noon, client, tiny):
    """Ensures that a web page refused by the budget is a 429 and its record says 429."""
    reader = UserFactory(tier_override=tiny)
    client.force_login(reader)
    posts = [PostFactory() for _ in range(5)]
    statuses = [client.get(f"/posts/{post.pk}/").status_code for post in posts]
    assert statuses == [200, 200, 200, 429, 429]
    rows = stored(gate_ledger)
    assert [r.status for r in rows] == statuses
    assert [r.route_name for r in rows] == ["feeds:post"] * 5


def test_repost_whose_original_does_not_fit_is_a_429_record(gate_ledger, noon, make_request, tiny):
    """Ensures that a page whose first post is a repost with an original that does not fit
    (so the response is a 429) is recorded as a 429 with nothing delivered and nothing charged
    (issue 12: the repost itself used to be charged, 5 → 6 with a 429)."""
    reader = UserFactory(tier_override=tiny)
    read_gate(request=make_request(fresh(reader)), post_ids=[900001, 900002])
    original = PostFactory()
    repost = PostFactory(repost_of=original, text="")
    with pytest.raises(ReadBudgetExhausted):
        posts_deliver(request=make_request(fresh(reader)), posts=[repost])
    last = stored(gate_ledger)[-1]
    assert (last.status, last.delivered, last.newly_charged, last.refused) == (429, 0, 0, 2)


def test_dry_run_records_what_enforce_would_refuse(gate_ledger, noon, make_request, tiny, settings):
    """Ensures that dry-run writes records too: served (200), with the count enforce would
    have refused and the remaining budget as enforce would see it."""
    settings.ACCESS_ENFORCEMENT = "dry-run"
    reader = UserFactory(tier_override=tiny)
    read_gate(request=make_request(fresh(reader)), post_ids=[1, 2])
    read_gate(request=make_request(fresh(reader)), post_ids=[1, 3, 4, 5])
    rows = stored(gate_ledger)
    assert [(r.status, r.delivered, r.refused, r.remaining, r.mode) for r in rows] == [
        (200, 2, 0, 1, "dry-run"),
        (200, 4, 2, 0, "dry-run"),
    ]


def test_off_writes_nothing(gate_ledger, noon, make_request, settings):
    """Ensures that with enforcement off (the benchmarks' baseline) no record is written."""
    settings.ACCESS_ENFORCEMENT = "off"
    read_gate(request=make_request(), post_ids=[1, 2])
    assert stored(gate_ledger) == []


def test_unlimited_reader_record_has_no_remaining(gate_ledger, noon, make_request):
    """Ensures that staff (unlimited) are still logged, with remaining empty."""
    staff = UserFactory(is_staff=True)
    read_gate(request=make_request(fresh(staff)), post_ids=[1, 2, 3])
    (row,) = stored(gate_ledger)
    assert (row.tier, row.remaining, row.delivered, row.status) == ("unlimited", None, 3, 200)


def test_ipv6_records_group_by_64(gate_ledger, noon, make_request):
    """Ensures that an IPv6 reader's record is grouped by its /64."""
    read_gate(request=make_request(ip="2001:db8:1:2:aaaa::7"), post_ids=[1])
    (row,) = stored(gate_ledger)
    assert row.ip_prefix == "2001:db8:1:2::/64" and row.client_ip == "2001:db8:1:2:aaaa::7"
    assert log_ip_prefix(None) == "unknown" and log_ip_prefix("10.1.2.3") == "10.1.2.0/24"


def test_api_call_records_the_token(gate_ledger, noon):
    """Ensures that an API call with a Bearer token is recorded with the token's id, the API
    route and the caller."""
    from rest_framework.test import APIClient

    user = UserFactory()
    token, raw = token_create(user=user, name="scraper?", scopes=["read"])
    PostFactory(author=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api.get("/api/v1/timelines/home", {"limit": "5"}, HTTP_USER_AGENT="curl/8")
    assert response.status_code == 200
    (row,) = stored(gate_ledger)
    assert (row.token_id, row.user_id, row.principal) == (token.pk, user.pk, f"user:{user.pk}")
    assert row.route_name == "api:timeline_home" and row.path == "/api/v1/timelines/home"
    assert row.paging == {"limit": "5"} and row.user_agent == "curl/8"
    # The same reader through a web session: no token.
    web = Client()
    web.force_login(user)
    assert web.get("/").status_code == 200
    assert stored(gate_ledger)[-1].token_id is None


def test_the_charge_and_its_record_commit_together(db, noon, make_request, use_ledger):
    """Ensures that on the database ledger the record is part of the charge's transaction: a
    failure after the charge rolls both back."""
    from access.ledgers import DatabaseLedger

    use_ledger(DatabaseLedger())
    with pytest.raises(RuntimeError), transaction.atomic():
        read_gate(request=make_request(), post_ids=[1, 2])
        raise RuntimeError("the request failed before commit")
    assert AccessLogEntry.objects.count() == 0
    from access.models import ReadReceipt

    assert ReadReceipt.objects.count() == 0


# --- Redis: the stream and the drain --------------------------------------------------------


@pytest.fixture
def stream_ledger(db, private_redis, use_ledger):
    return use_ledger(
        RedisLedger(client=private_redis.client(), key_prefix=f"t-{uuid.uuid4().hex}")
    )


def test_redis_record_goes_to_the_stream_in_the_same_script(stream_ledger, noon, make_request):
    """Ensures that the Redis ledger writes nothing to the database at gate time (the record
    is in the stream, written by the charging script) and the drain stores it once."""
    client = stream_ledger.client
    read_gate(request=make_request(), post_ids=[1, 2])
    assert AccessLogEntry.objects.count() == 0
    assert client.xlen(stream_ledger.stream_key) == 1
    assert len(stored(stream_ledger)) == 1
    assert client.xlen(stream_ledger.stream_key) == 0  # acknowledged and deleted
    assert len(stored(stream_ledger)) == 1


def test_drain_is_idempotent_across_a_crash_before_ack(stream_ledger, noon, make_request):
    """Ensures that entries stored but not acknowledged (the worker died between commit and
    XACK) are claimed by the next drain and stored once, not twice."""
    client, key = stream_ledger.client, stream_ledger.stream_key
    for _ in range(5):
        read_gate(request=make_request(), post_ids=[1])
    # A first consumer reads everything and "dies" after its commit, before acknowledging.
    from access.access_log_drain import _group_ensure, stream_entry_parse

    _group_ensure(client, key)
    entries = client.xreadgroup(DRAIN_GROUP, "dead-worker", {key: ">"}, count=100)[0][1]
    AccessLogEntry.objects.bulk_create([stream_entry_parse(f)[0] for _, f in entries[:3]])
    assert client.xpending(key, DRAIN_GROUP)["pending"] == 5
    # Too soon to take over: the entries may still be in the dead consumer's hands.
    assert access_log_drain(client=client, key_prefix=stream_ledger.key_prefix) == 0
    stored_now = access_log_drain(
        client=client, key_prefix=stream_ledger.key_prefix, claim_idle_seconds=0
    )
    assert stored_now == 5  # 3 of them conflicted and were kept once
    assert AccessLogEntry.objects.count() == 5
    assert client.xpending(key, DRAIN_GROUP)["pending"] == 0 and client.xlen(key) == 0


def test_an_unreadable_entry_stores_neither_its_record_nor_its_provenance(
    stream_ledger, noon, make_request
):
    """Ensures that a stream entry the drain cannot read (here a broken provenance field) is
    left pending whole: neither its access-log row nor its provenance is stored from it, while
    the readable entries of the same batch are stored with their provenance."""
    client, key = stream_ledger.client, stream_ledger.stream_key
    read_gate(request=make_request(), post_ids=[1, 2])
    good = client.xrange(key)[0][1]
    broken = {**good, b"p": b"1,not-an-id"}
    client.xadd(key, broken)
    assert access_log_drain(client=client, key_prefix=stream_ledger.key_prefix) == 1
    assert AccessLogEntry.objects.count() == 1
    assert DeliveryProvenance.objects.count() == 1
    assert client.xpending(key, DRAIN_GROUP)["pending"] == 1  # kept for a later release


def test_redis_down_records_go_to_the_database(db, noon, make_request, use_ledger):
    """Ensures that with Redis stopped, the fallback to the database ledger and the fail-closed
    refusals both still write their record (to the database, directly)."""
    server = RedisServer()
    use_ledger(RedisLedger(client=server.client(), key_prefix=f"t-{uuid.uuid4().hex}"))
    server.stop()
    unverified = UserFactory(date_joined=timezone.now() - timedelta(days=400))
    read_gate(request=make_request(fresh(unverified)), post_ids=[1, 2])  # falls back
    grant = read_gate(request=make_request(), post_ids=[3])  # anonymous: fails closed
    assert grant.ledger_unavailable
    rows = list(AccessLogEntry.objects.order_by("pk"))
    assert [(r.tier, r.status, r.delivered, r.refused) for r in rows] == [
        ("unverified", 200, 2, 0),
        ("anonymous", 429, 0, 1),
    ]


def test_drain_command_without_redis(db, settings, capsys):
    """Ensures that `manage.py drain_access_log` explains itself when there is no Redis."""
    from django.core.management import call_command

    settings.REDIS_URL = ""
    call_command("drain_access_log")
    assert "No REDIS_URL" in capsys.readouterr().out


def test_drain_command_drains_the_configured_stream(require_redis, db, noon, make_request):
    """Ensures that `manage.py drain_access_log` stores what the configured Redis holds."""
    from django.core.management import call_command

    from access.ledgers import redis_ledger

    ledger = redis_ledger()
    ledger.charge(
        principal="ip:x",
        day=noon_time().date(),
        limit=None,
        post_ids=[1],
        record=_record(make_request),
    )
    call_command("drain_access_log")
    assert AccessLogEntry.objects.count() == 1


def _record(make_request):
    from access.access_log import access_record_build

    return access_record_build(
        request=make_request(), principal="ip:x", tier="anonymous", mode="enforce",
        limit=None, now=timezone.now(),
    )  # fmt: skip


# --- Append-only and retention --------------------------------------------------------------


def _some_records(count: int, *, age_days: int = 0) -> None:
    when = timezone.now() - timedelta(days=age_days)
    AccessLogEntry.objects.bulk_create(
        [
            AccessLogEntry(
                record_id=uuid.uuid4().hex, created_at=when, principal="ip:x", tier="anonymous",
                ip_prefix="unknown", path="/", status=200, mode="enforce",
            )
            for _ in range(count)
        ]
    )  # fmt: skip


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_postgres_refuses_update_and_delete(require_postgres):
    """Ensures that on PostgreSQL the trigger refuses UPDATE and DELETE of records, whether
    through the ORM or raw SQL."""
    _some_records(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessLogEntry.objects.update(status=500)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessLogEntry.objects.all().delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM access_accesslogentry")
    # The purge's flag is transaction-local: it does not leak to the next transaction.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('microblog.access_log_purge', 'on', true)")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessLogEntry.objects.all().delete()
    # Even the purge's flag does not allow an UPDATE.
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT set_config('microblog.access_log_purge', 'on', true)")
        cursor.execute("UPDATE access_accesslogentry SET status = 500")
    assert AccessLogEntry.objects.filter(status=200).count() == 2
    # The purge's own flag is switched off straight after its DELETE, even in a transaction.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        from access.services import _purge_flag

        with _purge_flag():
            pass
        AccessLogEntry.objects.all().delete()


def test_purge_deletes_old_records_in_batches_and_is_recorded(db, settings):
    """Ensures that the retention purge deletes only records older than
    ACCESS_LOG_RETENTION_DAYS (in batches, through the trigger on PostgreSQL) and records
    itself in the admin action log."""
    settings.ACCESS_LOG_RETENTION_DAYS = 90
    _some_records(7, age_days=91)
    _some_records(3, age_days=89)
    assert access_log_purge(batch_size=2) == 7
    assert AccessLogEntry.objects.count() == 3
    log = AdminActionLog.objects.get(action="access_log_purge")
    assert log.actor is None and log.details["to_delete"] == 7
    assert access_log_purge() == 0  # idempotent
    assert AdminActionLog.objects.filter(action="access_log_purge").count() == 2


def test_purge_task_runs_the_purge(db, settings):
    """Ensures that the daily beat task calls the purge, and that beat schedules it and the
    drain."""
    from access.tasks import access_log_purge_task

    _some_records(1, age_days=200)
    assert access_log_purge_task.delay().get() == 1
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["access-purge-access-log"]["task"] == "access.tasks.access_log_purge_task"
    assert schedule["access-drain-access-log"]["schedule"] <= 10


def test_admin_cannot_edit_or_delete_records(admin_client):
    """Ensures that no admin page offers to change or delete an access-log record."""
    from django.contrib import admin

    model_admin = admin.site._registry.get(AccessLogEntry)
    assert model_admin is not None, "the access-log admin must be registered"
    request = admin_client.get("/admin/").wsgi_request
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert not model_admin.has_add_permission(request)


# --- Security events ------------------------------------------------------------------------


def test_login_success_and_failure_are_recorded(db, client):
    """Ensures that log-ins that succeed and fail are recorded with the user (or the username
    as typed), the client IP and the user agent."""
    user = UserFactory(username="alice")
    meta = {"REMOTE_ADDR": "192.0.2.44", "HTTP_USER_AGENT": "Firefox/130"}
    client.post("/accounts/login/", {"username": "Alice", "password": "wrong"}, **meta)
    client.post("/accounts/login/", {"username": "nobody", "password": "wrong"}, **meta)
    client.post("/accounts/login/", {"username": "alice", "password": DEFAULT_PASSWORD}, **meta)
    events = list(SecurityEvent.objects.order_by("pk"))
    assert [(e.kind, e.user_id, e.username) for e in events] == [
        (SecurityEvent.LOGIN_FAILED, user.pk, "Alice"),
        (SecurityEvent.LOGIN_FAILED, None, "nobody"),
        (SecurityEvent.LOGIN_SUCCEEDED, user.pk, "alice"),
    ]
    assert {(e.client_ip, e.user_agent) for e in events} == {("192.0.2.44", "Firefox/130")}


def test_token_created_and_revoked_are_recorded(db):
    """Ensures that creating and revoking an API token are recorded (revoking twice: once)."""
    user = UserFactory()
    token, _ = token_create(user=user, name="laptop", scopes=["read"])
    token_revoke(token=token)
    token_revoke(token=token)
    events = list(SecurityEvent.objects.filter(user=user).order_by("pk"))
    assert [(e.kind, e.details["token_id"]) for e in events] == [
        (SecurityEvent.TOKEN_CREATED, token.pk),
        (SecurityEvent.TOKEN_REVOKED, token.pk),
    ]


def test_verification_change_is_recorded(db):
    """Ensures that a verification change (badge on or off) is recorded, and only a change."""
    user = UserFactory()
    admin_user = UserFactory(is_staff=True)
    verification_grant(user=user, actor=admin_user, reason="press")
    verification_grant(user=user, actor=admin_user, reason="again")  # no change
    (event,) = SecurityEvent.objects.filter(kind=SecurityEvent.VERIFICATION_CHANGED)
    assert event.user_id == user.pk and event.details == {"is_verified": True}


def test_tier_override_change_in_admin_is_recorded(admin_client, tiny):
    """Ensures that changing an account's tier override in the admin is recorded with the old
    and new tier and the admin who did it."""
    user = UserFactory()
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {}
    for name, bound in form.fields.items():
        value = form.initial.get(name, bound.initial)
        if value is None or name in ("password",):
            continue
        if isinstance(value, list | tuple):
            data[name] = [getattr(v, "pk", v) for v in value]
        else:
            data[name] = getattr(value, "pk", value)
    data["date_joined_0"], data["date_joined_1"] = (
        user.date_joined.strftime("%Y-%m-%d"),
        user.date_joined.strftime("%H:%M:%S"),
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)
    data["tier_override"] = tiny.pk
    for prefix in ("subscriptions",):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    inline_prefixes = [fs.formset.prefix for fs in page.context["inline_admin_formsets"]]
    for prefix in inline_prefixes:
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    response = admin_client.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    (event,) = SecurityEvent.objects.filter(kind=SecurityEvent.TIER_CHANGED)
    assert event.user_id == user.pk
    # One write path (accounts.moderation) for the admin and the review screens: one shape.
    assert event.details["from"] is None and event.details["to"] == "tiny"
    assert event.details["by"] == response.wsgi_request.user.pk
    logged = AdminActionLog.objects.get(action=AdminActionLog.Action.TIER_OVERRIDE)
    assert logged.target_object_id == str(user.pk) and logged.details["tier"] == "tiny"
    assert User.objects.get(pk=user.pk).tier_override_id == tiny.pk


def test_drain_task_survives_redis_down(db, settings, monkeypatch):
    """Ensures that the beat drain task, with Redis stopped, logs and returns instead of
    failing every five seconds (the gate writes to the database meanwhile)."""
    from access.tasks import access_log_drain_task

    server = RedisServer()
    ledger = RedisLedger(client=server.client(), key_prefix=f"t-{uuid.uuid4().hex}")
    server.stop()
    settings.REDIS_URL = server.url
    monkeypatch.setattr("access.ledgers.redis_ledger", lambda: ledger)
    assert access_log_drain_task.delay().get() == 0
