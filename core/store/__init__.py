"""Persistence: SQLModel tables, the engine and its migrations."""

from core.store.database import Database, current_database, open_database

__all__ = ["Database", "current_database", "open_database"]
