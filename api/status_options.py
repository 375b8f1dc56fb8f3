"""Options of ``POST /api/v1/statuses`` that Mastodon has and we do not (docs/api.md): refused
with 422 rather than ignored, since ignoring them would publish something other than asked
(a scheduled post at once, a poll as plain text)."""

# Mastodon's names, as JSON keys and as form fields ("poll[options][]", "poll[expires_in]").
UNSUPPORTED = {
    "scheduled_at": (
        "scheduled_at: scheduled posts are not supported, so nothing was posted. Send the "
        "post without scheduled_at when you want it published."
    ),
    "poll": "poll: polls are not supported yet, so nothing was posted.",
}


def _given(value) -> bool:
    """A client may send an option empty or null to mean "none" (some always send the key)."""
    return value not in (None, "", [], {})


def unsupported_status_option(data) -> str | None:
    """The refusal for the first unsupported option the body sets, or None."""
    for key in data:
        name = str(key).split("[", 1)[0]
        if name not in UNSUPPORTED:
            continue
        values = data.getlist(key) if hasattr(data, "getlist") else [data.get(key)]
        if any(_given(value) for value in values):
            return UNSUPPORTED[name]
    return None
