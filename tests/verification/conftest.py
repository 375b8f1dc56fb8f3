"""Fixtures for paid verification: the eligible account and the admin's client live with the
accounts tests (email confirmation is theirs); they are shared here."""

from tests.accounts.conftest import admin_client, eligible_user  # noqa: F401 - pytest fixtures
