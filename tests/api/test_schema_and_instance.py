"""The OpenAPI schema, the Swagger UI, the instance endpoints and app registration."""

import pytest
from django.core.management import call_command

from tests.api.conftest import assert_schema, openapi_schema

pytestmark = pytest.mark.django_db


def test_schema_is_served_and_valid(anon):
    """Ensures that /api/schema/ serves the OpenAPI document and it validates without warnings."""
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.1")
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_every_operation_documents_its_errors():
    """Ensures that every operation documents its errors, and every status-returning one 429."""
    for path, methods in openapi_schema()["paths"].items():
        for method, op in methods.items():
            codes = set(op["responses"])
            if op["operationId"] not in ("instance_v1", "instance_v2"):
                assert codes - {"200"}, (method, path)
            returns_statuses = "Status" in str(op["responses"].get("200", "")) or "Context" in str(
                op["responses"].get("200", "")
            )
            if returns_statuses and op["operationId"] not in ("statuses_create", "statuses_delete"):
                assert "429" in codes, (method, path)


def test_schema_validation_catches_a_wrong_shape(alice):
    """Ensures that the schema check used by these tests does fail on a wrong body."""

    class Fake:
        status_code = 200

        @staticmethod
        def json():
            return {"id": 5}

    with pytest.raises(AssertionError):
        assert_schema(Fake, "accounts_get")


def test_swagger_ui_is_served_without_a_cdn(anon):
    """Ensures that /api/docs/ renders Swagger UI from our own static files."""
    response = anon.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs"):
        assert cdn not in html
    script = anon.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


@pytest.mark.parametrize("path", ["/api/v1/instance", "/api/v1/instance/"])
def test_instance_v1(anon, path):
    """Ensures that v1 instance says a Mastodon version clients accept, 500 characters, and our
    tiers."""
    response = anon.get(path)
    assert response.status_code == 200
    assert_schema(response, "instance_v1")
    data = response.json()
    assert data["version"].startswith("4.3.0 ")
    assert data["configuration"]["statuses"]["max_characters"] == 500
    slugs = {tier["slug"]: tier["daily_read_budget"] for tier in data["read_budget_tiers"]}
    assert slugs["anonymous"] == 100 and slugs["unlimited"] is None


@pytest.mark.parametrize("path", ["/api/v2/instance", "/api/v2/instance/"])
def test_instance_v2(anon, path):
    """Ensures that v2 instance carries the same version, limits and tiers."""
    response = anon.get(path)
    assert response.status_code == 200
    assert_schema(response, "instance_v2")
    data = response.json()
    assert data["configuration"]["statuses"]["max_characters"] == 500
    assert data["api_versions"] == {"mastodon": 2}
    assert len(data["read_budget_tiers"]) >= 6


def test_apps_create_and_verify(anon, reader):
    """Ensures that app registration answers like Mastodon (the requested scopes echoed) and
    verify_credentials names the token's application and scopes."""
    response = anon.post(
        "/api/v1/apps",
        {
            "client_name": "Tusky",
            "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
            "scopes": "read write:statuses",
        },
    )
    assert response.status_code == 200
    assert_schema(response, "apps_create")
    assert response.json()["scopes"] == ["read", "write:statuses"]
    bad = anon.post("/api/v1/apps", {"redirect_uris": "x"}, format="json")
    assert bad.status_code == 422
    assert_schema(bad, "apps_create")
    response = reader.client.get("/api/v1/apps/verify_credentials")
    assert response.status_code == 200
    assert_schema(response, "apps_verify_credentials")
    assert response.json()["scopes"] == ["read"]
    assert anon.get("/api/v1/apps/verify_credentials").status_code == 401


def test_unknown_api_path_is_json_404(anon):
    """Ensures that an unknown API path gets Mastodon's JSON 404, not an HTML page."""
    response = anon.get("/api/v1/conversations")
    assert response.status_code == 404
    assert response.json() == {"error": "Record not found"}
