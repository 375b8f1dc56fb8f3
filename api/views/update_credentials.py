"""PATCH /api/v1/accounts/update_credentials: the caller changes their own account.

Only the AI-training choice so far (``ai_training``: "allow", "disallow" or "default"); other
Mastodon fields (display_name, note, …) are accepted and ignored until they are built. Each
field is applied by its own function so more can be added beside it.
"""

from collections.abc import Mapping

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from accounts.ai_training import CHOICES, user_ai_training_set

from ..permissions import IsAuthenticatedMastodon, TokenHasScope
from ..schemas import CredentialAccountSerializer, errors
from .base import ApiView


class UpdateCredentialsSerializer(serializers.Serializer):
    ai_training = serializers.ChoiceField(
        choices=list(CHOICES),
        required=False,
        help_text=(
            "Extension: may your posts be used to train AI models? "
            '"default" follows the server\'s default. Takes effect on the next response.'
        ),
    )


def ai_training_apply(*, user, data) -> None:
    """Apply ``ai_training`` when the request sent it (422 with a message when it is not one
    of the choices)."""
    if not isinstance(data, Mapping):
        raise ParseError("Send the fields as a JSON object or a form.")
    if "ai_training" not in data:
        return  # Mastodon's PATCH: a field not sent is left as it is
    choice = str(data.get("ai_training", "")).strip().lower()
    user_ai_training_set(user=user, choice=choice)  # ValidationError → 422


class UpdateCredentialsView(ApiView):
    """PATCH /api/v1/accounts/update_credentials: change the caller's own account."""

    permission_classes = [IsAuthenticatedMastodon, TokenHasScope]

    @extend_schema(
        operation_id="accounts_update_credentials",
        # Forms are accepted too (as Mastodon clients send them); JSON is what is documented.
        request={"application/json": UpdateCredentialsSerializer},
        responses={200: CredentialAccountSerializer, **errors(400, 401, 403, 422)},
        tags=["accounts"],
    )
    def patch(self, request):
        user = request.user
        ai_training_apply(user=user, data=request.data)
        return Response(self.entities().credential_account(user))
