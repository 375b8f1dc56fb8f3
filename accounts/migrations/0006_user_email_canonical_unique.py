"""One mailbox, one account: ``User.email_canonical`` unique where not blank (filled by 0005),
and one message for a taken address whichever constraint refuses it."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_user_email_canonical")]

    operations = [
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                condition=models.Q(("email_canonical", ""), _negated=True),
                fields=("email_canonical",),
                name="user_email_canonical_unique",
                violation_error_code="email_taken",
                violation_error_message=(
                    "An account with this email address already exists. Use a different one."
                ),
            ),
        ),
        migrations.AlterConstraint(
            model_name="user",
            name="user_email_ci_unique",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("email"),
                name="user_email_ci_unique",
                violation_error_code="email_taken",
                violation_error_message=(
                    "An account with this email address already exists. Use a different one."
                ),
            ),
        ),
    ]
