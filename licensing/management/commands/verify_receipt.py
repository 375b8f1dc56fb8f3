"""Check a licensed-lane receipt: ``manage.py verify_receipt <receipt or file>``.

Prints the receipt's contents when the signature holds (exit 0), the reason when not
(exit 1). ``--public-key`` checks against a published key instead of this server's.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from licensing.receipts import receipt_verify


class Command(BaseCommand):
    help = "Verify the Ed25519 signature of a licensed-lane receipt and show what it covers."

    def add_arguments(self, parser):
        parser.add_argument("receipt", help="The Licence-Receipt header value, or a file with it.")
        parser.add_argument("--public-key", default=None, help="base64url Ed25519 public key.")

    def handle(self, *args, receipt: str, public_key: str | None, **options):
        try:
            is_file = Path(receipt).is_file()
        except OSError:  # a receipt is longer than any file name
            is_file = False
        if is_file:
            receipt = Path(receipt).read_text().strip()
        check = receipt_verify(receipt, public_key=public_key)
        if not check.valid:
            raise CommandError(f"Receipt NOT valid: {check.reason}.")
        payload = check.payload
        self.stdout.write(
            f"Receipt valid: {payload['receipt_id']} issued {payload['issued_at']} to "
            f"{payload['licensee']} (licence {payload['licence']}, plan {payload['plan']}), "
            f"{len(payload['post_ids'])} post(s), key {payload['key_id']}."
        )
        self.stdout.write(json.dumps(payload, indent=2, sort_keys=True))
