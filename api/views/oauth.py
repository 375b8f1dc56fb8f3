"""OAuth 2's JSON faces, as Mastodon clients call them: app registration and verification,
the token and revocation endpoints, and the authorization-server metadata (RFC 8414).

The consent pages (``/oauth/authorize``) are web pages, in ``accounts.oauth.views``. The rules
(single-use codes, exact redirect URIs, PKCE, constant-time secrets) are in
``accounts.oauth.services``; these views parse, call one service and answer.
"""

import base64
import binascii
from urllib.parse import unquote

from django.core.exceptions import ValidationError
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from rest_framework import serializers
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response

from accounts.models import ApiToken
from accounts.oauth.scopes import KNOWN_SCOPES, scopes_parse
from accounts.oauth.selectors import application_authenticate
from accounts.oauth.services import (
    OOB_REDIRECT_URI,
    application_create,
    token_exchange_code,
    token_issue_client_credentials,
    token_revoke_for_application,
)

from ..exceptions import Unprocessable
from ..schemas import AppCreateSerializer, ApplicationSerializer, errors
from .base import ApiView

TAGS = ["apps"]
GRANT_TYPES = ("authorization_code", "client_credentials")

_TOKEN = inline_serializer(
    "OAuthToken",
    {
        "access_token": serializers.CharField(),
        "token_type": serializers.CharField(),
        "scope": serializers.CharField(),
        "created_at": serializers.IntegerField(),
    },
)
_OAUTH_ERROR = inline_serializer(
    "OAuthError",
    {
        "error": serializers.CharField(),
        "error_description": serializers.CharField(required=False),
    },
)
_TOKEN_REQUEST = inline_serializer(
    "OAuthTokenRequest",
    {
        "grant_type": serializers.ChoiceField(choices=GRANT_TYPES),
        "code": serializers.CharField(required=False),
        "redirect_uri": serializers.CharField(required=False),
        "client_id": serializers.CharField(required=False),
        "client_secret": serializers.CharField(required=False),
        "code_verifier": serializers.CharField(required=False),
        "scope": serializers.CharField(required=False),
    },
)
_REVOKE_REQUEST = inline_serializer(
    "OAuthRevokeRequest",
    {
        "token": serializers.CharField(),
        "client_id": serializers.CharField(required=False),
        "client_secret": serializers.CharField(required=False),
    },
)

_METADATA = inline_serializer(
    "OAuthServerMetadata",
    {
        **{
            name: serializers.CharField()
            for name in (
                "issuer",
                "service_documentation",
                "authorization_endpoint",
                "token_endpoint",
                "revocation_endpoint",
                "app_registration_endpoint",
            )
        },
        **{
            name: serializers.ListField(child=serializers.CharField())
            for name in (
                "scopes_supported",
                "response_types_supported",
                "response_modes_supported",
                "grant_types_supported",
                "token_endpoint_auth_methods_supported",
                "code_challenge_methods_supported",
            )
        },
    },
)


def application_entity(application, *, client_secret: str | None = None) -> dict:
    """Mastodon's Application (with its credentials right after registration)."""
    uris = application.redirect_uri_list
    entity = {
        "id": str(application.pk),
        "name": application.name,
        "website": application.website or None,
        "scopes": application.scope_list,
        "redirect_uri": "\n".join(uris),
        "redirect_uris": uris,
        "vapid_key": "",
    }
    if client_secret is not None:
        entity |= {
            "client_id": application.client_id,
            "client_secret": client_secret,
            "client_secret_expires_at": 0,
        }
    return entity


def _data(request) -> dict:
    if not hasattr(request.data, "get"):  # e.g. a JSON array
        raise Unprocessable("Send a JSON object or a form.")
    return request.data


class AppCreateView(ApiView):
    """POST /api/v1/apps: register an OAuth app (no account needed, as on Mastodon).

    Scopes are echoed as requested; several redirect URIs may be given (a list, or separated
    by spaces or new lines): ``urn:ietf:wg:oauth:2.0:oob``, http(s) URLs, custom schemes.
    """

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="apps_create",
        request=AppCreateSerializer,
        responses={200: ApplicationSerializer, **errors(400, 422, 429)},
        tags=TAGS,
    )
    def post(self, request):
        data = _data(request)
        name = data.get("client_name")
        if not isinstance(name, str) or not name.strip():
            raise Unprocessable("client_name: give your application a name.")
        scopes, website = data.get("scopes"), data.get("website")
        if "scopes" in data and not isinstance(scopes, str):
            raise Unprocessable('scopes: must be a string, e.g. "read write".')
        if website is not None and not isinstance(website, str):
            raise Unprocessable("website: must be a string.")
        redirect = data.get("redirect_uris")
        if isinstance(redirect, list) and not all(isinstance(item, str) for item in redirect):
            raise Unprocessable("redirect_uris: give URIs as strings.")
        if "redirect_uris" in data and not isinstance(redirect, str | list):
            raise Unprocessable("redirect_uris: give a URI or a list of URIs.")
        if isinstance(redirect, str):
            redirect = redirect.split()
        redirect = [uri for item in (redirect or [OOB_REDIRECT_URI]) for uri in item.split()]
        parsed = scopes_parse(scopes or "read")
        if not parsed:
            raise Unprocessable(
                "scopes: unknown scope. Use read, write, follow, push, profile or granular "
                'ones such as "read:statuses".'
            )
        try:
            application, secret = application_create(
                name=name, redirect_uris=redirect, scopes=parsed, website=website or ""
            )
        except ValidationError as exc:
            raise Unprocessable(
                " ".join(f"{field}: {' '.join(found)}" for field, found in exc.message_dict.items())
            ) from exc
        return Response(application_entity(application, client_secret=secret))


class HasToken(BasePermission):
    """Any valid token (an app's own, without a user, too) or a logged-in session."""

    def has_permission(self, request, view):
        return isinstance(request.auth, ApiToken) or request.user.is_authenticated


class AppVerifyView(ApiView):
    """GET /api/v1/apps/verify_credentials: the app behind the caller's token."""

    permission_classes = [HasToken]

    @extend_schema(
        operation_id="apps_verify_credentials",
        responses={200: ApplicationSerializer, **errors(401, 403)},
        tags=TAGS,
    )
    def get(self, request):
        token = request.auth
        if isinstance(token, ApiToken) and token.application is not None:
            entity = application_entity(token.application)
            return Response(entity | {"scopes": token.scope_list})
        if isinstance(token, ApiToken):
            name, scopes = token.name, token.scope_list
        else:
            name, scopes = "Web", list(ApiToken.SCOPES)
        return Response({"name": name, "website": None, "scopes": scopes, "vapid_key": ""})


def _client_credentials(request, data) -> tuple[object, object, bool]:
    """The client's id and secret from HTTP Basic (RFC 6749 §2.3.1) or the body."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None, True
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret), True
    return data.get("client_id"), data.get("client_secret"), False


def _oauth_error(error: oauth_errors.OAuth2Error, *, basic: bool = False) -> Response:
    response = Response(
        {"error": error.error, "error_description": error.description},
        status=error.status_code,
    )
    if error.status_code == 401:
        scheme = "Basic" if basic else "Bearer"
        response["WWW-Authenticate"] = f'{scheme} realm="Microblog OAuth"'
    return response


def _no_store(response: Response) -> Response:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


class TokenView(ApiView):
    """POST /oauth/token: exchange an authorization code, or get the app's own token
    (client credentials). Form or JSON bodies; tokens do not expire."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="oauth_token",
        request=_TOKEN_REQUEST,
        responses={
            200: _TOKEN,
            400: OpenApiResponse(_OAUTH_ERROR, description="RFC 6749 §5.2 error."),
            401: OpenApiResponse(_OAUTH_ERROR, description="The client is not authenticated."),
            **errors(422, 429),
        },
        tags=["oauth"],
    )
    def post(self, request):
        data = _data(request)
        grant_type = data.get("grant_type")
        if grant_type not in GRANT_TYPES:
            return _no_store(
                _oauth_error(
                    oauth_errors.UnsupportedGrantTypeError(
                        description="grant_type must be authorization_code or client_credentials."
                    )
                )
            )
        client_id, client_secret, basic = _client_credentials(request, data)
        application = application_authenticate(client_id=client_id, client_secret=client_secret)
        if application is None:
            return _no_store(
                _oauth_error(
                    oauth_errors.InvalidClientError(
                        description="Client authentication failed: check client_id and "
                        "client_secret, or register the app again."
                    ),
                    basic=basic,
                )
            )
        try:
            if grant_type == "authorization_code":
                token, raw = token_exchange_code(
                    application=application,
                    code=data.get("code"),
                    redirect_uri=data.get("redirect_uri"),
                    code_verifier=data.get("code_verifier"),
                )
            else:
                scopes = scopes_parse(data.get("scope") or "read")
                if not scopes:
                    raise oauth_errors.InvalidScopeError(description="scope: unknown scope.")
                token, raw = token_issue_client_credentials(application=application, scopes=scopes)
        except oauth_errors.OAuth2Error as error:  # a suspended app is InvalidClientError
            return _no_store(_oauth_error(error, basic=basic))
        return _no_store(
            Response(
                {
                    "access_token": raw,
                    "token_type": "Bearer",
                    "scope": token.scopes,
                    "created_at": int(token.created_at.timestamp()),
                }
            )
        )


class RevokeView(ApiView):
    """POST /oauth/revoke: the app gives up one of its tokens (RFC 7009); always ``{}``."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="oauth_revoke",
        request=_REVOKE_REQUEST,
        responses={
            200: {"type": "object", "maxProperties": 0},
            401: OpenApiResponse(_OAUTH_ERROR, description="The client is not authenticated."),
            **errors(400, 422, 429),
        },
        tags=["oauth"],
    )
    def post(self, request):
        data = _data(request)
        client_id, client_secret, basic = _client_credentials(request, data)
        application = application_authenticate(client_id=client_id, client_secret=client_secret)
        if application is None:
            return _oauth_error(
                oauth_errors.InvalidClientError(
                    description="Client authentication failed: check client_id and client_secret."
                ),
                basic=basic,
            )
        token_revoke_for_application(application=application, raw_token=data.get("token"))
        return Response({})


class AuthorizationServerMetadataView(ApiView):
    """GET /.well-known/oauth-authorization-server: where the OAuth endpoints are (RFC 8414)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="oauth_metadata", responses={200: _METADATA, **errors(429)}, tags=["oauth"]
    )
    def get(self, request):
        base = request.build_absolute_uri("/").rstrip("/")
        return Response(
            {
                "issuer": base + "/",
                "service_documentation": base + "/api/docs/",
                "authorization_endpoint": base + reverse("oauth_authorize"),
                "token_endpoint": base + reverse("api:oauth_token"),
                "revocation_endpoint": base + reverse("api:oauth_revoke"),
                "app_registration_endpoint": base + reverse("api:apps"),
                "scopes_supported": sorted(KNOWN_SCOPES),
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": list(GRANT_TYPES),
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "code_challenge_methods_supported": ["S256"],
            }
        )
