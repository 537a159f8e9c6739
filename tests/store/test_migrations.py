from sqlalchemy import inspect
from sqlmodel import SQLModel

import core.store.tables  # noqa: F401  (registers the tables in SQLModel.metadata)
from core.store import open_database
from core.store.migrations import MIGRATIONS, apply_migrations


def test_migrations_build_exactly_the_declared_schema(db):
    inspector = inspect(db.engine)
    actual_tables = set(inspector.get_table_names()) - {"_migrations"}
    assert actual_tables == set(SQLModel.metadata.tables)
    for name, table in SQLModel.metadata.tables.items():
        actual = {c["name"]: c for c in inspector.get_columns(name)}
        assert set(actual) == set(table.columns.keys()), name
        for column in table.columns:
            assert _spelled(actual[column.name]["type"], db) == _spelled(column.type, db), (name, column.name)
            assert actual[column.name]["nullable"] == (column.nullable and not column.primary_key), (name, column.name)


def _spelled(column_type, db) -> str:
    """A column type as the database's dialect writes it, without its collation (SQLite's inspector
    leaves NOCASE out; tests/store/test_sessions.py checks what it does). PostgreSQL reports FLOAT as
    DOUBLE PRECISION."""
    spelled = column_type.compile(dialect=db.engine.dialect).split(" COLLATE ")[0]
    return "FLOAT" if spelled == "DOUBLE PRECISION" else spelled


def test_migrations_declare_the_same_foreign_keys(db):
    inspector = inspect(db.engine)
    for name, table in SQLModel.metadata.tables.items():
        declared = {(fk.parent.name, fk.column.table.name, fk.column.name) for fk in table.foreign_keys}
        actual = {
            (fk["constrained_columns"][0], fk["referred_table"], fk["referred_columns"][0])
            for fk in inspector.get_foreign_keys(name)
        }
        assert actual == declared, name


def test_migrations_are_recorded_and_applied_once(db):
    with db.engine.connect() as conn:
        recorded = [row[0] for row in conn.exec_driver_sql("SELECT name FROM _migrations ORDER BY name")]
    assert recorded == [m.name for m in MIGRATIONS]
    assert apply_migrations(db.engine) == []


def test_migration_names_are_unique_numbered_and_in_order():
    names = [m.name for m in MIGRATIONS]
    assert len(set(names)) == len(names)
    assert names == sorted(names)
    assert all(name[0] == "m" and name[1:4].isdigit() for name in names)


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(data_dir):
    with open_database(f"sqlite:///{data_dir / 'lab.db'}").engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_new_migration_applies_on_top_of_an_existing_database(db):
    from core.store.migrations import Migration

    extra = MIGRATIONS + (Migration("m999_probe", ("CREATE TABLE probe (id INTEGER NOT NULL PRIMARY KEY)",)),)
    assert apply_migrations(db.engine, extra) == ["m999_probe"]
    assert inspect(db.engine).has_table("probe")


def _open_at_once(url: str, barrier) -> None:
    from core.store.database import Database

    barrier.wait()
    Database(url).migrate()


def test_processes_opening_a_fresh_database_at_once_all_succeed(database_url):
    import multiprocessing

    url = database_url
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    processes = [context.Process(target=_open_at_once, args=(url, barrier)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    with open_database(url).engine.connect() as conn:
        recorded = [row[0] for row in conn.exec_driver_sql("SELECT name FROM _migrations")]
    assert sorted(recorded) == [m.name for m in MIGRATIONS]
