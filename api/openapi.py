"""How the OpenAPI schema is generated: drf-spectacular's AutoSchema, plus optional auth."""

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import IsAuthenticated


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, saying when an operation also works without credentials.

    An operation whose permissions do not demand a logged-in caller (profiles, timelines,
    posts: subject to the logged-out reading policy) lists ``{}`` among its security
    requirements, so clients and fuzzers know a call without a token is legitimate.
    """

    def get_auth(self):
        auths = super().get_auth()
        demands_login = any(
            isinstance(permission, IsAuthenticated) for permission in self.view.get_permissions()
        )
        if auths and {} not in auths and not demands_login:
            auths.append({})
        return auths
