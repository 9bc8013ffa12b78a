"""The hub's database: SQLAlchemy 2.0 models, engine and session factory, repositories, Alembic."""
