"""WSGI entry point for gunicorn and other WSGI servers."""

import os

from django.core.wsgi import get_wsgi_application

from microblog.embedded_schedule import embedded_schedule_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "microblog.settings")
application = get_wsgi_application()
# Without a broker this process runs the beat schedule itself (runserver loads this module in
# its serving process only, never in the autoreloader's watcher).
embedded_schedule_start()
