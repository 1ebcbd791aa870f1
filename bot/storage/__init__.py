"""Community storage: SQLAlchemy Core tables, Alembic migrations (applied on start) and the SQL store.

SQLite by default (`sqlite+aiosqlite:///data/dancescore.db`, WAL mode), PostgreSQL by URL
(`postgresql+asyncpg://...`).
"""
