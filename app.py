"""The WSGI entry point: ``gunicorn app:app`` (see Procfile and gunicorn.conf.py)."""

from oauth_bridge import create_app

app = create_app()
