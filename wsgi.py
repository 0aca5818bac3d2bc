"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``."""

from contact_center import create_app

app = create_app()
