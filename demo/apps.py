from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for ``make run`` (``seed_demo``): posts, follows and a verified account. On top
    beside api/, since it uses feeds/ and verification/, which do not know each other."""

    name = "demo"
