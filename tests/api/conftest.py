"""Fixtures for the REST API: clients with tokens, and response validation against the schema."""

import pytest
from jsonschema import Draft202012Validator
from rest_framework.test import APIClient

from accounts.services import token_create
from tests.factories import UserFactory

_SCHEMA: dict = {}


def openapi_schema() -> dict:
    """The OpenAPI document drf-spectacular generates, built once per test run."""
    if not _SCHEMA:
        from drf_spectacular.generators import SchemaGenerator

        _SCHEMA.update(SchemaGenerator().get_schema(request=None, public=True))
    return _SCHEMA


def operation(operation_id: str) -> dict:
    for methods in openapi_schema()["paths"].values():
        for op in methods.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return op
    raise AssertionError(f"no operation {operation_id!r} in the schema")


def assert_schema(response, operation_id: str) -> None:
    """Validate a response body against what the schema documents for its status code."""
    documented = operation(operation_id)["responses"]
    code = str(response.status_code)
    assert code in documented, f"{operation_id} does not document {code}"
    body_schema = documented[code]["content"]["application/json"]["schema"]
    schema = {**body_schema, "components": openapi_schema()["components"]}
    errors = sorted(
        Draft202012Validator(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        ).iter_errors(response.json()),
        key=str,
    )
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


class Caller:
    """A user with a token and an API client that sends it."""

    def __init__(self, user, raw: str, token):
        self.user = user
        self.raw = raw
        self.token = token
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")


def make_caller(scopes=("read", "write"), **user_fields) -> Caller:
    user = UserFactory(**user_fields)
    token, raw = token_create(user=user, name="test", scopes=list(scopes))
    return Caller(user, raw, token)


@pytest.fixture
def alice(db) -> Caller:
    return make_caller(username="alice")


@pytest.fixture
def bob(db) -> Caller:
    return make_caller(username="bob")


@pytest.fixture
def reader(db) -> Caller:
    """A caller whose token may only read."""
    return make_caller(scopes=("read",), username="reader")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()
