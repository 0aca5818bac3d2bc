"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``."""

import sys

from contact_center import create_app
from contact_center.settings import SettingsError

try:
    app = create_app()
except SettingsError as error:  # fail fast at start, naming what is missing
    sys.exit(f"configuration error: {error}")
