"""The accounts directory's look-ups (accounts/directory.py)."""

import pytest

from accounts.directory import account_get
from accounts.models import User
from core.prepared import BIGINT_MAX
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def fields(user: User) -> dict:
    return {f.attname: getattr(user, f.attname) for f in User._meta.concrete_fields}


def test_account_get_is_the_orms_active_account(django_assert_num_queries):
    """Ensures that the prepared look-up gives the ORM's row, every field converted alike
    and none deferred, in one query; and that a suspended account, a missing id and an id
    no bigint holds are None."""
    alice, sam = UserFactory(), UserFactory()
    sam.is_active = False
    sam.save(update_fields=["is_active"])
    for _ in range(2):  # the second run executes the statement prepared by the first
        with django_assert_num_queries(1):
            found = account_get(account_id=alice.pk)
        assert fields(found) == fields(User.objects.get(pk=alice.pk))
        assert not found.get_deferred_fields()
        assert account_get(account_id=sam.pk) is None
        assert account_get(account_id=sam.pk + alice.pk + 1000) is None
    assert account_get(account_id=BIGINT_MAX + 1) is None
    assert account_get(account_id=0) is None
