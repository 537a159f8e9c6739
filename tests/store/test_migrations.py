from sqlalchemy import inspect
from sqlalchemy.dialects import sqlite
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
            declared_type = column.type.compile(dialect=sqlite.dialect())
            assert str(actual[column.name]["type"]) == declared_type, (name, column.name)
            assert actual[column.name]["nullable"] == (column.nullable and not column.primary_key), (name, column.name)


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


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(db):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_new_migration_applies_on_top_of_an_existing_database(tmp_path):
    from core.store.migrations import Migration

    url = f"sqlite:///{tmp_path / 'old.db'}"
    database = open_database(url)
    extra = MIGRATIONS + (Migration("m999_probe", ("CREATE TABLE probe (id INTEGER PRIMARY KEY)",)),)
    assert apply_migrations(database.engine, extra) == ["m999_probe"]
    assert inspect(database.engine).has_table("probe")


def _open_at_once(url: str, barrier) -> None:
    from core.store.database import Database

    barrier.wait()
    Database(url).migrate()


def test_processes_opening_a_fresh_database_at_once_all_succeed(tmp_path):
    import multiprocessing

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
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
