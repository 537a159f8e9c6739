"""A real PostgreSQL server for the tests: Debian's `postgresql` package (installed by `make test`),
one throwaway cluster per test process on 127.0.0.1 at a free port, stopped when the session ends.

Tests ask for a store through `database_kind` (the `db` fixture does): "sqlite" elsewhere, both in the
folders of `ON_BOTH_STORES` (slow tests aside). A PostgreSQL test gets a database of its own, named by
`DATABASE_URL`, so the workers it starts use it too.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

POSTGRESQL_BINARIES = Path("/usr/lib/postgresql")
# A test cluster need not survive a power cut: no fsync makes each test's CREATE DATABASE fast.
ON_BOTH_STORES = {"store", "access", "jobs", "evaluation", "history"}  # folders of tests/
SPEED_OVER_DURABILITY = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PostgresServer:
    def __init__(self, folder: Path, durable: bool = False):
        self.folder = folder
        self.durable = durable  # bench/store_backends.py measures with PostgreSQL's own settings
        self.port = _free_port()
        self._names = itertools.count(1)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://lab@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        data = self.folder / "data"
        self._run("initdb", "-D", str(data), "-U", "lab", "--auth=trust", "-E", "UTF8", "--no-sync",
                  "--no-instructions")
        self._run("pg_ctl", "start", "-w", "-D", str(data), "-l", str(self.folder / "server.log"), "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c max_connections=200"
                  + ("" if self.durable else f" {SPEED_OVER_DURABILITY}"))

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-m", "immediate", "-D", str(self.folder / "data"))

    def create_database(self) -> str:
        """A new empty database's URL."""
        import psycopg

        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=lab dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _run(self, program: str, *args: str) -> None:
        command = [str(_binaries() / program), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if result.returncode:
            log = self.folder / "server.log"
            raise RuntimeError(f"{program} failed: {result.stderr or result.stdout}"
                               + (log.read_text()[-2000:] if log.exists() else ""))


def _binaries() -> Path:
    found = sorted(POSTGRESQL_BINARIES.glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if not found:
        pytest.fail("PostgreSQL's server is not installed: `make test` installs Debian's postgresql package.")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    folder = Path(tempfile.mkdtemp(prefix="ragtune-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def pytest_generate_tests(metafunc):
    """Slow tests are about models, not the store: they run on SQLite only, as do those marked so."""
    marked = metafunc.definition.get_closest_marker
    if ("database_kind" in metafunc.fixturenames and metafunc.definition.path.parent.name in ON_BOTH_STORES
            and not marked("slow") and not marked("sqlite_only")):
        metafunc.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def database_kind(request) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database_url(request, database_kind, data_dir, monkeypatch) -> str:
    """The test's store: a SQLite file in its data dir, or a database of its own on the test server."""
    if database_kind == "postgresql":
        monkeypatch.setenv("DATABASE_URL", request.getfixturevalue("postgres_server").create_database())
    from core.settings import get_settings

    return get_settings().database_url
