"""Seed the two data plans (X's API tiers of 2023-2025: Basic 10,000 and Pro 1,000,000 posts
a month). Admins change quotas and prices afterwards."""

from django.db import migrations

PLANS = [
    ("basic", "Basic", 10_000, 20_000, 1),
    ("pro", "Pro", 1_000_000, 500_000, 2),
]


def seed(apps, schema_editor):
    DataPlan = apps.get_model("licensing", "DataPlan")
    for slug, name, quota, price_minor, order in PLANS:
        DataPlan.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "monthly_post_quota": quota,
                "price_minor": price_minor,
                "sort_order": order,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("licensing", "DataPlan").objects.filter(slug__in=["basic", "pro"]).delete()


class Migration(migrations.Migration):
    dependencies = [("licensing", "0001_licensed_lane")]

    operations = [migrations.RunPython(seed, unseed)]
