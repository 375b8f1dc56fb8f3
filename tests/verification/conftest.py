"""Fixtures for paid verification: the eligible account and Stripe helpers live with the
accounts tests (email confirmation is theirs); they are shared here."""

from tests.accounts.conftest import eligible_user  # noqa: F401 - a pytest fixture
