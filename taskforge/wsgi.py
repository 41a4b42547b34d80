"""WSGI entry point (gunicorn: taskforge.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskforge.settings")
application = get_wsgi_application()
