"""Seed the paid verification plan at X's price: $8.00 USD a month (admins edit it afterwards)."""

from django.db import migrations


def seed(apps, schema_editor):
    Plan = apps.get_model("accounts", "Plan")
    Plan.objects.get_or_create(
        slug="verified",
        defaults={"name": "Verified", "price_minor": 800, "currency": "usd", "interval": "month"},
    )


def unseed(apps, schema_editor):
    apps.get_model("accounts", "Plan").objects.filter(slug="verified").delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_verification")]
    operations = [migrations.RunPython(seed, unseed)]
