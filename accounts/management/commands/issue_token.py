"""``manage.py issue_token <username> --scopes read,write [--name NAME]``: print a new token.

For admins and scripts. The secret is printed once on stdout and never stored (only its hash).
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.scopes import scopes_normalize
from accounts.selectors import user_get_by_username
from accounts.services import token_create


class Command(BaseCommand):
    help = "Issue a personal access token for an account and print it (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--scopes",
            default="read",
            help='Comma- or space-separated: "read", "write" (Mastodon\'s "read:statuses" etc. '
            "map to their prefix). Default: read.",
        )
        parser.add_argument("--name", default="Issued by an admin", help="A name to recognise it.")

    def handle(self, *args, username, scopes, name, **options):
        user = user_get_by_username(username=username)
        if user is None:
            raise CommandError(f"No active account is called {username!r}.")
        normalized = scopes_normalize(scopes)
        if not normalized:
            raise CommandError(f"--scopes {scopes!r}: choose read and/or write.")
        try:
            token, raw = token_create(user=user, name=name, scopes=normalized)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stderr.write(
            f"Token {token.name!r} for @{user.username} with scopes {token.scopes!r}. "
            "Copy it now: it is not shown again."
        )
        self.stdout.write(raw)
