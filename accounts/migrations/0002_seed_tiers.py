"""Seed the reading tiers with DESIGN.md's default budgets (admins edit them afterwards)."""

from django.db import migrations

TIERS = [
    # slug, name, daily budget (None = unlimited), description, sort order
    ("anonymous", "Anonymous", 100, "Logged-out readers, counted per IP prefix.", 10),
    ("restricted", "Restricted", 50, "Set by an admin on a suspected scraper.", 20),
    ("new", "New", 500, "Unverified accounts in their first days.", 30),
    ("unverified", "Unverified", 1000, "Accounts without paid verification.", 40),
    ("verified", "Verified", 10000, "Accounts with an active paid verification.", 50),
    ("unlimited", "Unlimited", None, "Staff. Never refused, still logged.", 60),
]


def seed(apps, schema_editor):
    Tier = apps.get_model("accounts", "Tier")
    for slug, name, budget, description, order in TIERS:
        Tier.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "daily_read_budget": budget,
                "description": description,
                "sort_order": order,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("accounts", "Tier").objects.filter(slug__in=[t[0] for t in TIERS]).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
