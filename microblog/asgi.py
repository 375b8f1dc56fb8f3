"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

from microblog.embedded_schedule import embedded_schedule_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "microblog.settings")
application = get_asgi_application()
embedded_schedule_start()  # without a broker this process runs the beat schedule itself
