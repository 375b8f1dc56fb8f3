"""Instance information (v1 and v2) and the minimal app registration Mastodon clients call."""

import secrets

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.directory import instance_stats, tiers_list
from accounts.models import ApiToken
from accounts.scopes import scopes_normalize

from ..exceptions import Unprocessable
from ..permissions import IsAuthenticatedMastodon
from ..schemas import (
    AppCreateSerializer,
    ApplicationSerializer,
    NullField,
    TierSerializer,
    errors,
)
from .base import ApiView

# Clients parse the leading Mastodon version to decide which features exist.
VERSION = "4.3.0 (compatible; Microblog 0.1)"
TITLE = "Microblog"
DESCRIPTION = (
    "A microblog where reading is metered: every post served to a reader draws from a daily "
    "read budget for their tier, which resets at 00:00 UTC."
)


def _tiers() -> list[dict]:
    return [
        {"slug": t.slug, "name": t.name, "daily_read_budget": t.daily_read_budget}
        for t in tiers_list()
    ]


def _statuses_configuration() -> dict:
    return {
        "max_characters": settings.POST_MAX_CHARACTERS,
        "max_media_attachments": 0,
        "characters_reserved_per_url": 23,
    }


_INSTANCE_V1 = inline_serializer(
    "InstanceV1",
    {
        "uri": serializers.CharField(),
        "title": serializers.CharField(),
        "short_description": serializers.CharField(),
        "description": serializers.CharField(),
        "email": serializers.CharField(allow_blank=True),
        "version": serializers.CharField(),
        "urls": serializers.DictField(),
        "stats": serializers.DictField(child=serializers.IntegerField()),
        "thumbnail": serializers.CharField(allow_null=True),
        "languages": serializers.ListField(child=serializers.CharField()),
        "registrations": serializers.BooleanField(),
        "approval_required": serializers.BooleanField(),
        "invites_enabled": serializers.BooleanField(),
        "configuration": serializers.DictField(),
        "contact_account": NullField(),
        "rules": serializers.ListField(),
        "read_budget_tiers": TierSerializer(many=True, help_text="Extension: reading tiers."),
    },
)

_INSTANCE_V2 = inline_serializer(
    "InstanceV2",
    {
        "domain": serializers.CharField(),
        "title": serializers.CharField(),
        "version": serializers.CharField(),
        "source_url": serializers.CharField(),
        "description": serializers.CharField(),
        "usage": serializers.DictField(),
        "thumbnail": serializers.DictField(),
        "languages": serializers.ListField(child=serializers.CharField()),
        "configuration": serializers.DictField(),
        "registrations": serializers.DictField(),
        "api_versions": serializers.DictField(child=serializers.IntegerField()),
        "contact": serializers.DictField(),
        "rules": serializers.ListField(),
        "read_budget_tiers": TierSerializer(many=True, help_text="Extension: reading tiers."),
    },
)


class InstanceV1View(ApiView):
    """GET /api/v1/instance: what this server is (Mastodon 3.x clients read this)."""

    permission_classes = [AllowAny]

    @extend_schema(operation_id="instance_v1", responses={200: _INSTANCE_V1}, tags=["instance"])
    def get(self, request):
        host = request.get_host()
        return Response(
            {
                "uri": host,
                "title": TITLE,
                "short_description": DESCRIPTION,
                "description": DESCRIPTION,
                "email": settings.DEFAULT_FROM_EMAIL,
                "version": VERSION,
                "urls": {},
                "stats": instance_stats(),
                "thumbnail": None,
                "languages": ["en"],
                "registrations": True,
                "approval_required": False,
                "invites_enabled": False,
                "configuration": {
                    "statuses": _statuses_configuration(),
                    "media_attachments": {"supported_mime_types": []},
                    "polls": {"max_options": 0},
                },
                "contact_account": None,
                "rules": [],
                "read_budget_tiers": _tiers(),
            }
        )


class InstanceV2View(ApiView):
    """GET /api/v2/instance: what this server is (Mastodon 4.x clients read this)."""

    permission_classes = [AllowAny]

    @extend_schema(operation_id="instance_v2", responses={200: _INSTANCE_V2}, tags=["instance"])
    def get(self, request):
        return Response(
            {
                "domain": request.get_host(),
                "title": TITLE,
                "version": VERSION,
                "source_url": "",
                "description": DESCRIPTION,
                "usage": {"users": {"active_month": instance_stats()["user_count"]}},
                "thumbnail": {"url": request.build_absolute_uri("/static/api/header.png")},
                "languages": ["en"],
                "configuration": {
                    "urls": {},
                    "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
                    "statuses": _statuses_configuration(),
                    "media_attachments": {"supported_mime_types": []},
                    "polls": {"max_options": 0},
                    "translation": {"enabled": False},
                },
                "registrations": {"enabled": True, "approval_required": False, "message": None},
                "api_versions": {"mastodon": 2},
                "contact": {"email": settings.DEFAULT_FROM_EMAIL, "account": None},
                "rules": [],
                "read_budget_tiers": _tiers(),
            }
        )


class AppCreateView(ApiView):
    """POST /api/v1/apps: accepted so clients that register first keep working.

    We have no OAuth flow: the returned client credentials are not stored and cannot obtain a
    token. Create a personal access token on the web (Settings → Developer) instead.
    """

    permission_classes = [AllowAny]
    authentication_classes: list = []  # registering an app needs no account, as on Mastodon

    @extend_schema(
        operation_id="apps_create",
        request=AppCreateSerializer,
        responses={200: ApplicationSerializer, **errors(400, 422)},
        tags=["apps"],
    )
    def post(self, request):
        if not hasattr(request.data, "get"):  # e.g. a JSON array
            raise Unprocessable("Send a JSON object or a form with a client_name field.")
        name = request.data.get("client_name")
        if not isinstance(name, str) or not name.strip():
            raise Unprocessable("client_name: give your application a name.")
        scopes, website = request.data.get("scopes"), request.data.get("website")
        if "scopes" in request.data and not isinstance(scopes, str):
            raise Unprocessable('scopes: must be a string, e.g. "read write".')
        if website is not None and not isinstance(website, str):
            raise Unprocessable("website: must be a string.")
        redirect = request.data.get("redirect_uris")
        if isinstance(redirect, list) and not all(isinstance(item, str) for item in redirect):
            raise Unprocessable("redirect_uris: give URIs as strings.")
        if "redirect_uris" in request.data and not isinstance(redirect, str | list):
            raise Unprocessable("redirect_uris: give a URI or a list of URIs.")
        redirect = redirect or "urn:ietf:wg:oauth:2.0:oob"
        if isinstance(redirect, list):
            redirect = " ".join(str(item) for item in redirect)
        scopes = scopes_normalize(str(request.data.get("scopes") or "read"))
        website = request.data.get("website") or None
        return Response(
            {
                "id": "0",
                "name": name.strip()[:100],
                "website": website if isinstance(website, str) else None,
                "scopes": scopes,
                "redirect_uri": str(redirect),
                "redirect_uris": str(redirect).split(),
                "client_id": secrets.token_urlsafe(24),
                "client_secret": secrets.token_urlsafe(32),
                "vapid_key": "",
            }
        )


class AppVerifyView(ApiView):
    """GET /api/v1/apps/verify_credentials: the "application" behind the caller's token."""

    permission_classes = [IsAuthenticatedMastodon]

    @extend_schema(
        operation_id="apps_verify_credentials",
        responses={200: ApplicationSerializer, **errors(401, 403)},
        tags=["apps"],
    )
    def get(self, request):
        token = request.auth
        if isinstance(token, ApiToken):
            name, scopes = token.name, token.scope_list
        else:
            name, scopes = "Web", list(ApiToken.SCOPES)
        return Response({"name": name, "website": None, "scopes": scopes, "vapid_key": ""})
