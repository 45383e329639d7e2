"""Database layer: tables, engine and sessions, Alembic migrations."""
