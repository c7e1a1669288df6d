"""Alembic migrations of the read model (see README.md here). A package only so that it
ships with onechain; alembic loads ``env.py`` and ``versions/*.py`` by path."""
