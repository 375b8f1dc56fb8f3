"""Moving models between apps keeps every row (issue 13).

The database is built at the migrations main had before the move (50f8eda's leaf migrations of
accounts, access and feeds, no core), every moved table is filled through that day's models,
then the database is migrated forward and every row is looked up through today's models. Runs
on whichever database the suite uses: SQLite by default, PostgreSQL with DATABASE_URL.
"""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# Where main stood before the move: the leaf migration of each app then.
BEFORE_MOVE = [
    ("accounts", "0006_user_email_canonical_unique"),
    ("access", "0005_security_event_password_email_kinds"),
    ("feeds", "0001_initial"),
    ("core", None),  # the bottom app did not exist yet
    ("verification", None),  # nor the billing app
]
# Each moved model: (app then, app now, model name).
MOVED = [
    ("access", "core", "SecurityEvent"),
    ("accounts", "core", "AdminActionLog"),
    ("accounts", "verification", "Plan"),
    ("accounts", "verification", "Subscription"),
    ("accounts", "verification", "PaymentWebhookEvent"),
]
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()  # what was applied, for the state below
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _snapshot(apps, models) -> dict[str, list[dict]]:
    """Every row of each model, every column, in id order."""
    return {
        model: list(apps.get_model(app, model).objects.order_by("pk").values())
        for app, model in models
    }


def _leaves():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_moved_models_keep_every_row_and_their_content_types():
    """Ensures that migrating a database filled at the old layout forward keeps every row of
    every moved table (same ids, same values) and relabels their content types."""
    old = _migrate(BEFORE_MOVE)
    ContentType = old.get_model("contenttypes", "ContentType")
    User = old.get_model("accounts", "User")
    user = User.objects.create(username="kept", email="kept@example.com", password="!")
    old_types = {
        model: ContentType.objects.get_or_create(app_label=app, model=model.lower())[0].pk
        for app, _, model in MOVED
    }
    user_type = ContentType.objects.get_or_create(app_label="accounts", model="user")[0]
    events = [
        old.get_model("access", "SecurityEvent").objects.create(
            kind="login_failed", user_id=user.pk, username=f"kept{n}", details={"n": n}
        )
        for n in range(3)
    ]
    logs = [
        old.get_model("accounts", "AdminActionLog").objects.create(
            actor_id=user.pk,
            action="flag_suspend_account",
            target_content_type_id=user_type.pk,
            target_object_id=str(user.pk),
            target_repr="kept",
            reason=f"reason {n}",
            details={"n": n},
            created_at=WHEN,
        )
        for n in range(3)
    ]

    Plan = old.get_model("accounts", "Plan")
    plan = Plan.objects.create(slug="kept-plan", name="Kept", price_minor=800)
    subscriptions = [
        old.get_model("accounts", "Subscription").objects.create(
            user_id=user.pk,
            plan_id=plan.pk,
            provider="dev",
            status=status,
            checkout_ref=f"ref-{status}",
            current_period_end=WHEN,
        )
        for status in ("active", "ended", "pending")
    ]
    old.get_model("accounts", "PaymentWebhookEvent").objects.create(
        provider="stripe", event_id="evt_kept", event_type="invoice.paid"
    )
    before = _snapshot(old, [(app_then, model) for app_then, _, model in MOVED])
    assert all(before.values()), "every moved table has rows to keep"

    new = _migrate(_leaves())

    after = _snapshot(new, [(app_now, model) for _, app_now, model in MOVED])
    for app_then, app_now, model in MOVED:
        assert after[model] == before[model], f"{app_then}.{model} -> {app_now}.{model}"
    assert (
        new.get_model("verification", "Subscription")
        .objects.filter(
            pk__in=[subscription.pk for subscription in subscriptions], plan__slug="kept-plan"
        )
        .count()
        == 3
    )

    SecurityEvent = new.get_model("core", "SecurityEvent")
    AdminActionLog = new.get_model("core", "AdminActionLog")
    assert SecurityEvent._meta.db_table == "access_securityevent"
    assert sorted(
        SecurityEvent.objects.values_list("pk", "kind", "user_id", "username", "details")
    ) == [
        (event.pk, "login_failed", user.pk, f"kept{n}", {"n": n}) for n, event in enumerate(events)
    ]
    assert sorted(
        AdminActionLog.objects.values_list(
            "pk", "actor_id", "action", "target_content_type_id", "reason", "details", "created_at"
        )
    ) == [
        (log.pk, user.pk, "flag_suspend_account", user_type.pk, f"reason {n}", {"n": n}, WHEN)
        for n, log in enumerate(logs)
    ]
    # The content types (and the permissions on them) now name core, and are the same rows.
    NewContentType = new.get_model("contenttypes", "ContentType")
    for _, app_now, model in MOVED:
        assert (
            NewContentType.objects.get(app_label=app_now, model=model.lower()).pk
            == (old_types[model])
        )
    # New rows go on from the old ids (the tables' sequences came along).
    created = SecurityEvent.objects.create(kind="login_succeeded", username="after")
    assert created.pk > max(event.pk for event in events)


@pytest.mark.django_db(transaction=True)
def test_the_move_can_be_undone_without_losing_a_row():
    """Ensures that migrating back to the old layout (the rollback of a deploy) keeps the rows
    too, under the old apps' models."""
    _migrate(_leaves())
    from core.models import SecurityEvent

    event = SecurityEvent.objects.create(kind="login_succeeded", username="before-rollback")
    old = _migrate(BEFORE_MOVE)
    assert old.get_model("access", "SecurityEvent").objects.get(pk=event.pk).username == (
        "before-rollback"
    )
    _migrate(_leaves())
    assert SecurityEvent.objects.filter(pk=event.pk).exists()
