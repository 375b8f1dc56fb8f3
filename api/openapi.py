"""How the OpenAPI schema is generated: drf-spectacular's AutoSchema, plus optional auth and
the links between operations."""

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import IsAuthenticated


def _status_links(status: str) -> dict:
    """What a client can do next with the status at JSON pointer ``status`` of a response."""
    status_id = {"status_id": f"$response.body#{status}/id"}
    author_id = {"account_id": f"$response.body#{status}/account/id"}
    return {
        "GetStatus": {"operationId": "statuses_get", "parameters": status_id},
        "GetContext": {"operationId": "statuses_context", "parameters": status_id},
        "Favourite": {"operationId": "statuses_favourite", "parameters": status_id},
        "Unfavourite": {"operationId": "statuses_unfavourite", "parameters": status_id},
        "Reblog": {"operationId": "statuses_reblog", "parameters": status_id},
        "Unreblog": {"operationId": "statuses_unreblog", "parameters": status_id},
        "FavouritedBy": {"operationId": "statuses_favourited_by", "parameters": status_id},
        "RebloggedBy": {"operationId": "statuses_reblogged_by", "parameters": status_id},
        "Delete": {"operationId": "statuses_delete", "parameters": status_id},
        "Reply": {
            "operationId": "statuses_create",
            "requestBody": {"in_reply_to_id": f"$response.body#{status}/id"},
        },
        "GetAuthor": {"operationId": "accounts_get", "parameters": author_id},
        "AuthorStatuses": {"operationId": "accounts_statuses", "parameters": author_id},
    }


def _account_links(account: str) -> dict:
    """What a client can do next with the account at JSON pointer ``account`` of a response.

    (No "Status" in these names: tests/api takes a 200 response that mentions it for one
    that returns statuses, which must then document 429.)
    """
    account_id = {"account_id": f"$response.body#{account}/id"}
    return {
        "GetAccount": {"operationId": "accounts_get", "parameters": account_id},
        "AccountPosts": {"operationId": "accounts_statuses", "parameters": account_id},
        "Followers": {"operationId": "accounts_followers", "parameters": account_id},
        "Following": {"operationId": "accounts_following", "parameters": account_id},
        "Follow": {"operationId": "accounts_follow", "parameters": account_id},
        "Unfollow": {"operationId": "accounts_unfollow", "parameters": account_id},
        "Relationships": {
            "operationId": "accounts_relationships",
            "parameters": {"id[]": f"$response.body#{account}/id"},
        },
    }


def _after_delete() -> dict:
    """After ``DELETE /statuses/{id}``: the same id again (now gone) and a redraft."""
    gone = {"status_id": "$request.path.status_id"}
    return {
        "GetDeleted": {"operationId": "statuses_get", "parameters": gone},
        "ContextOfDeleted": {"operationId": "statuses_context", "parameters": gone},
        "FavouriteDeleted": {"operationId": "statuses_favourite", "parameters": gone},
        "ReblogDeleted": {"operationId": "statuses_reblog", "parameters": gone},
        "FavouritedByDeleted": {"operationId": "statuses_favourited_by", "parameters": gone},
        "DeleteAgain": {"operationId": "statuses_delete", "parameters": gone},
        "Redraft": {
            "operationId": "statuses_create",
            "requestBody": {"status": "$response.body#/text"},
        },
    }


def _page_links(operation_id: str) -> dict:
    """A page of statuses: its first status, and the page after it (``max_id``)."""
    return {
        **_status_links("/0"),
        "OlderPage": {
            "operationId": operation_id,
            "parameters": {"max_id": "$response.body#/0/id"},
        },
    }


TIMELINES = {
    "HomeTimeline": {"operationId": "timelines_home"},
    "PublicTimeline": {"operationId": "timelines_public"},
}

# OpenAPI links on each operation's 200 response: how a response's ids feed the next request.
# Clients read them as documentation; schemathesis' stateful phase follows them to chain calls
# (create a status, then read, favourite, reblog and delete it, then read it again).
LINKS: dict[str, dict] = {
    "statuses_create": {**_status_links(""), **TIMELINES},
    "statuses_get": _status_links(""),
    "statuses_favourite": _status_links(""),
    "statuses_unfavourite": _status_links(""),
    "statuses_unreblog": _status_links(""),
    "statuses_reblog": {
        **_status_links("/reblog"),
        "GetRepost": {
            "operationId": "statuses_get",
            "parameters": {"status_id": "$response.body#/id"},
        },
        "DeleteRepost": {
            "operationId": "statuses_delete",
            "parameters": {"status_id": "$response.body#/id"},
        },
    },
    "statuses_delete": _after_delete(),
    "statuses_context": {
        "GetAncestor": {
            "operationId": "statuses_get",
            "parameters": {"status_id": "$response.body#/ancestors/0/id"},
        },
        "GetDescendant": {
            "operationId": "statuses_get",
            "parameters": {"status_id": "$response.body#/descendants/0/id"},
        },
    },
    "statuses_favourited_by": _account_links("/0"),
    "statuses_reblogged_by": _account_links("/0"),
    "timelines_home": _page_links("timelines_home"),
    "timelines_public": _page_links("timelines_public"),
    "accounts_statuses": {
        **_status_links("/0"),
        "OlderPage": {
            "operationId": "accounts_statuses",
            "parameters": {
                "account_id": "$request.path.account_id",
                "max_id": "$response.body#/0/id",
            },
        },
    },
    "accounts_verify_credentials": {
        **_account_links(""),
        **TIMELINES,
        "Lookup": {
            "operationId": "accounts_lookup",
            "parameters": {"acct": "$response.body#/acct"},
        },
    },
    "accounts_get": _account_links(""),
    "accounts_lookup": _account_links(""),
    "accounts_follow": {**_account_links(""), **TIMELINES},
    "accounts_unfollow": _account_links(""),
    "accounts_followers": _account_links("/0"),
    "accounts_following": _account_links("/0"),
    "accounts_relationships": _account_links("/0"),
}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, saying when an operation also works without credentials,
    and which operations a response leads to (OpenAPI links, from ``LINKS``).

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

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        links = LINKS.get((operation or {}).get("operationId"))
        ok = (operation or {}).get("responses", {}).get("200")
        if links and ok is not None:
            operation["responses"]["200"] = {**ok, "links": links}
        return operation
