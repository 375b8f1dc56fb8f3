"""Instance information (v1 and v2). App registration and OAuth are in ``oauth``."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.directory import instance_stats, tiers_list
from feeds.models import MediaAttachment

from ..schemas import (
    NullField,
    TierSerializer,
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


# Every field strict clients decode (Ice Cubes requires all four poll fields), with the value
# that says "not offered": we have no polls and no video.
POLLS_CONFIGURATION = {
    "max_options": 0,
    "max_characters_per_option": 0,
    "min_expiration": 0,
    "max_expiration": 0,
}


def _media_configuration() -> dict:
    """What clients may upload (images only, feeds.media), as Mastodon states its limits."""
    return {
        "supported_mime_types": ["image/jpeg", "image/png", "image/webp", "image/gif"],
        "image_size_limit": settings.MEDIA_IMAGE_MAX_BYTES,
        "image_matrix_limit": settings.IMAGE_MAX_PIXELS,
        "video_size_limit": 0,
        "video_frame_rate_limit": 0,
        "video_matrix_limit": 0,
        "description_limit": MediaAttachment.DESCRIPTION_MAX,
    }


def _statuses_configuration() -> dict:
    return {
        "max_characters": settings.POST_MAX_CHARACTERS,
        "max_media_attachments": settings.MEDIA_PER_POST,
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
        "icon": serializers.ListField(),
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
                    "media_attachments": _media_configuration(),
                    "polls": POLLS_CONFIGURATION,
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
                "thumbnail": {
                    "url": request.build_absolute_uri("/static/api/header.png"),
                    "blurhash": None,
                    "versions": {},
                },
                "icon": [],
                "languages": ["en"],
                "configuration": {
                    "urls": {},
                    "vapid": {"public_key": ""},
                    "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
                    "statuses": _statuses_configuration(),
                    "media_attachments": _media_configuration(),
                    "polls": POLLS_CONFIGURATION,
                    "translation": {"enabled": False},
                },
                "registrations": {
                    "enabled": True,
                    "approval_required": False,
                    "message": None,
                    "url": None,
                },
                "api_versions": {"mastodon": 2},
                "contact": {"email": settings.DEFAULT_FROM_EMAIL, "account": None},
                "rules": [],
                "read_budget_tiers": _tiers(),
            }
        )
