"""Fixtures for the licensed lane: a licensee with an active licence and a token for it."""

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from licensing.billing import licence_activate, licence_checkout_start
from licensing.models import DataPlan
from licensing.services import licence_token_create
from tests.accounts.conftest import eligible_user  # noqa: F401 - a pytest fixture
from tests.factories import UserFactory


@dataclass
class Licensee:
    user: object
    licence: object
    raw: str
    client: APIClient


def make_licensee(plan_slug: str = "basic", *, quota: int | None = None) -> Licensee:
    plan = DataPlan.objects.get(slug=plan_slug)
    if quota is not None:
        plan.monthly_post_quota = quota
        plan.save()
    user = UserFactory()
    licence, _url = licence_checkout_start(user=user, plan=plan)
    licence_activate(licence=licence)
    _token, raw = licence_token_create(licence=licence, name="bulk")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return Licensee(user=user, licence=licence, raw=raw, client=client)


@pytest.fixture
def licensee(db) -> Licensee:
    return make_licensee()
