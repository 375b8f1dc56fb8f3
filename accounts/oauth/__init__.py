"""OAuth 2 as Mastodon clients use it: registered apps, authorization codes, their tokens.

The tokens an app obtains are ``accounts.models.ApiToken`` rows (with ``application`` set), so
they authenticate, draw on the read budget, appear in the access log and are revoked exactly
like personal access tokens.
"""
