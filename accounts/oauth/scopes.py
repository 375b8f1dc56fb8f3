"""OAuth scopes as Mastodon defines them (docs.joinmastodon.org/api/oauth-scopes), and the one
rule that decides whether granted scopes cover what an endpoint requires.

``read`` covers every ``read:*`` scope and ``write`` every ``write:*``; the legacy ``follow``
covers reading and changing follows, blocks and mutes; ``profile`` covers only
``verify_credentials``. A granular scope never covers its parent: ``write:favourites`` cannot
post a status.
"""

READ_SCOPES = (
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
)
WRITE_SCOPES = (
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
)
TOP_SCOPES = ("read", "write", "follow", "push", "profile")
KNOWN_SCOPES = frozenset(TOP_SCOPES + READ_SCOPES + WRITE_SCOPES)

FOLLOW_COVERS = frozenset(
    {"read:follows", "write:follows", "read:blocks", "write:blocks", "read:mutes", "write:mutes"}
)

# What a person is asked to allow, in their words (the consent page).
DESCRIPTIONS = {
    "read": "Read everything your account can see: timelines, posts, profiles, follows",
    "write": "Post, delete, follow, favourite and boost as you, and change your profile",
    "follow": "See and change whom you follow, block and mute",
    "push": "Receive push notifications (not offered by this server: grants nothing)",
    "profile": "See your profile (your name, avatar and username) only",
}
_AREA_WORDS = {
    "accounts": "profiles",
    "blocks": "blocked accounts",
    "bookmarks": "bookmarks",
    "conversations": "conversations",
    "favourites": "favourites",
    "filters": "filters",
    "follows": "follows",
    "lists": "lists",
    "media": "media uploads",
    "mutes": "muted accounts",
    "notifications": "notifications",
    "reports": "reports",
    "search": "search",
    "statuses": "posts",
}


def scopes_parse(value: object) -> list[str] | None:
    """The scopes in a space- (or comma-, or "+"-) separated string, in order without
    duplicates; None when any is unknown or the value is not a string."""
    if not isinstance(value, str):
        return None
    result: list[str] = []
    for scope in value.replace(",", " ").replace("+", " ").split():
        if scope not in KNOWN_SCOPES:
            return None
        if scope not in result:
            result.append(scope)
    return result


def scope_covers(granted: list[str] | tuple[str, ...], required: str) -> bool:
    """True when scopes ``granted`` allow what ``required`` names (see the module docstring)."""
    if required in granted:
        return True
    parent = required.split(":", 1)[0]
    if parent != required and parent in ("read", "write") and parent in granted:
        return True
    return required in FOLLOW_COVERS and "follow" in granted


def scopes_within(requested: list[str], allowed: list[str]) -> bool:
    """True when every requested scope is covered by the app's registered ``allowed`` scopes."""
    return all(scope_covers(allowed, scope) for scope in requested)


def scope_describe(scope: str) -> str:
    """What ``scope`` lets an app do, as a sentence for the consent page."""
    if scope in DESCRIPTIONS:
        return DESCRIPTIONS[scope]
    verb, _, area = scope.partition(":")
    words = _AREA_WORDS.get(area, area)
    return f"See your {words}" if verb == "read" else f"Change your {words}"
