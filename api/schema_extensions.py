"""How drf-spectacular documents our authentication classes (loaded by ``ApiConfig.ready``)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """A personal access token from Settings → Developer, sent as ``Authorization: Bearer``."""

    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token (scopes read and/or write).",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    """The web session cookie; unsafe methods also need the CSRF token."""

    target_class = "api.authentication.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
