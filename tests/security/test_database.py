"""The platform database against a hostile caller (issue 13): password authentication only, and the services'
role can read and write rows, nothing else.

Probed on the real cluster of the test run (deploy/dev/stack.py with-infra). Before: trust authentication (any
password, even none, as superuser) and services connected as the database's owner with a well-known password.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pgroles
import pytest
from stack import ROOT, Stack, free_port

from offerflow_shared import db
from tests.conftest import Dsns

pytestmark = pytest.mark.integration

# offerflow_shared.db's bookkeeping table, which some probes aim at.
MIGRATIONS_COLUMNS = ("component text NOT NULL, version int NOT NULL, name text NOT NULL, "
                      "applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version)")
# Predefined roles that reach the server's files or programs, or every table: the services' role holds none.
POWERFUL = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program", "pg_read_all_data",
            "pg_write_all_data", "pg_monitor", "pg_signal_backend", "pg_checkpoint")


def with_password(dsn: str, password: str | None) -> str:
    parts = urlsplit(dsn)
    user = parts.username or ""
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port}" if password is not None else \
        f"{user}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.mark.parametrize("role", ["app", "owner", "superuser"])
async def test_a_wrong_or_missing_password_is_refused(dsns: Dsns, role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = getattr(dsns, role)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    for password in ("wrong-password", "offerflow", "", None):  # trust accepted each of them
        with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
            await asyncpg.connect(with_password(dsn, password), passfile="/nonexistent")
    conn = await asyncpg.connect(dsn)  # the generated password is accepted
    await conn.close()


async def test_the_old_role_and_password_no_longer_open_anything(dsns: Dsns) -> None:
    legacy = dsns.app.replace(f"{pgroles.APP}:", "offerflow:", 1)
    legacy = with_password(legacy, "offerflow")
    with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
        await asyncpg.connect(legacy)


async def test_every_connection_needs_a_scram_password_socket_included(dsns: Dsns) -> None:
    su = await asyncpg.connect(dsns.superuser)
    try:
        rules = await su.fetch("SELECT type, auth_method, error FROM pg_hba_file_rules")
        socket_dir = (await su.fetchval("SHOW unix_socket_directories")).split(",")[0].strip()
        port = int(await su.fetchval("SHOW port"))
    finally:
        await su.close()
    assert rules and {r["type"] for r in rules} == {"local", "host"}
    assert {r["auth_method"] for r in rules} == {"scram-sha-256"}, [dict(r) for r in rules]
    assert all(r["error"] is None for r in rules)
    # The unix socket too: a wrong password is refused there as over TCP.
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(host=socket_dir, port=port, user=pgroles.SUPERUSER, password="wrong-password",
                              database="postgres")


async def test_the_services_role_has_no_power_beyond_rows(dsns: Dsns) -> None:
    su = await asyncpg.connect(dsns.superuser)
    try:
        role = await su.fetchrow("SELECT * FROM pg_roles WHERE rolname = $1", pgroles.APP)
        member_of = await su.fetch(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "WHERE m.member = $1::regrole", pgroles.APP)
        powers = {p: await su.fetchval("SELECT pg_has_role($1, $2, 'USAGE')", pgroles.APP, p) for p in POWERFUL}
        password = await su.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", pgroles.APP)
    finally:
        await su.close()
    assert role is not None and role["rolcanlogin"]
    assert not any(role[f] for f in ("rolsuper", "rolcreatedb", "rolcreaterole", "rolreplication", "rolbypassrls"))
    assert member_of == [] and not any(powers.values()), powers
    assert password.startswith("SCRAM-SHA-256$")  # stored as a verifier, never as md5 or plain text


@pytest.mark.parametrize("statement", [
    "CREATE TABLE sec_probe (x int)",
    "CREATE TABLE public.sec_probe (x int)",
    "CREATE SCHEMA sec_probe",
    "CREATE DATABASE sec_probe",
    "CREATE ROLE sec_probe",
    "ALTER ROLE offerflow_app SUPERUSER",
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "CREATE TEMP TABLE sec_probe_copy (x text); COPY sec_probe_copy FROM PROGRAM 'id'",
    "COPY (SELECT 1) TO '/tmp/offerflow-sec-probe'",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_ls_dir('.')",
    "SELECT lo_import('/etc/passwd')",
    "DROP TABLE schema_migrations",
    "TRUNCATE schema_migrations",
    "ALTER TABLE schema_migrations ADD COLUMN sec_probe int",
    "SET ROLE offerflow_owner",
])
async def test_the_services_role_is_refused(dsns: Dsns, statement: str) -> None:
    owner = await asyncpg.connect(dsns.owner)
    try:  # the table some probes aim at exists, whichever test ran before
        await owner.execute(f"CREATE TABLE IF NOT EXISTS schema_migrations ({MIGRATIONS_COLUMNS})")
    finally:
        await owner.close()
    app = await asyncpg.connect(dsns.app)
    try:
        assert await app.fetchval("SELECT current_user") == pgroles.APP
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute(statement)
    finally:
        await app.close()


async def test_migrations_run_as_the_owner_and_the_pool_as_the_services_role(dsns: Dsns, tmp_path: Path) -> None:
    component, table = f"sec-{uuid.uuid4().hex[:8]}", f"sec_{uuid.uuid4().hex[:8]}"
    (tmp_path / "001_table.sql").write_text(f"CREATE TABLE {table} (id serial PRIMARY KEY, v text NOT NULL)")
    pool = await db.open_migrated(dsns.app, component, tmp_path, migration_dsn=dsns.owner)
    try:
        assert await pool.fetchval("SELECT current_user") == pgroles.APP
        assert await pool.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = $1", table) == pgroles.OWNER
        # The owner's default privileges give the services' role its rows, the sequence included.
        await pool.execute(f"INSERT INTO {table} (v) VALUES ('a'), ('b')")
        await pool.execute(f"UPDATE {table} SET v = 'c' WHERE v = 'b'")
        await pool.execute(f"DELETE FROM {table} WHERE v = 'a'")
        assert [r["v"] for r in await pool.fetch(f"SELECT v FROM {table}")] == ["c"]
    finally:
        await pool.close()
    # Nothing pending: the services' role alone opens it (a production migration job ran before)…
    pool = await db.open_migrated(dsns.app, component, tmp_path)
    await pool.close()
    # …but a pending migration on the services' role alone fails: it may not create tables.
    (tmp_path / "002_more.sql").write_text(f"CREATE TABLE {table}_more (x int)")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.open_migrated(dsns.app, component, tmp_path)
    owner = await asyncpg.connect(dsns.owner)
    try:
        await owner.execute(f"DROP TABLE IF EXISTS {table}, {table}_more")
        await owner.execute("DELETE FROM schema_migrations WHERE component = $1", component)
    finally:
        await owner.close()


def test_the_credentials_are_private_files_outside_the_repository() -> None:
    run_dir = Path(os.environ.get("OFFERFLOW_PG_RUN_DIR") or pytest.skip("needs with-infra's database"))
    creds = run_dir / "credentials"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o700
    files = sorted(p.name for p in creds.iterdir())
    assert files == sorted([pgroles.APP, pgroles.OWNER, pgroles.SUPERUSER])
    passwords = set()
    for name in files:
        path = creds / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        passwords.add(path.read_text().strip())
    assert len(passwords) == 3 and all(len(p) >= 32 for p in passwords)
    tracked = subprocess.run(["git", "grep", "-lF", "-e", next(iter(passwords))], cwd=ROOT,
                             capture_output=True, text=True)
    assert tracked.stdout == "", "a generated password is in the repository"


@pytest.mark.e2e
async def test_the_services_migrate_and_run_as_the_services_role(stack: Stack, dsns: Dsns) -> None:
    assert urlsplit(stack.env()["OFFERFLOW_DATABASE_DSN"]).username == pgroles.APP
    owner = await asyncpg.connect(dsns.owner)
    try:
        components = {r["component"] for r in await owner.fetch("SELECT DISTINCT component FROM schema_migrations")}
        owners = {r["tableowner"] for r in await owner.fetch(
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
    finally:
        await owner.close()
    su = await asyncpg.connect(dsns.superuser)
    try:
        users = [r["usename"] for r in await su.fetch(
            "SELECT usename FROM pg_stat_activity WHERE datname = 'offerflow' AND pid <> pg_backend_pid()")]
    finally:
        await su.close()
    assert {"status-api", "certification", "notifier"} <= components, components
    assert owners == {pgroles.OWNER}, owners
    # The services hold their pools as the services' role; the owner's migration connections are closed.
    assert pgroles.APP in users and pgroles.SUPERUSER not in users and "offerflow" not in users, users


def test_a_cluster_of_an_older_checkout_is_switched_to_passwords() -> None:
    """An older checkout's cluster, still running: trust authentication, role ``offerflow`` (password
    ``offerflow``) owning the tables, no credentials. pg-start sets passwords (the server stopped meanwhile),
    rewrites pg_hba.conf and hands the tables to the owner."""
    infra = os.environ.get("OFFERFLOW_PG_RUN_DIR")
    if not infra:
        pytest.skip("needs with-infra's run dir (its parents are reachable by the postgres OS user)")
    run_dir, port = Path(infra).parent / f"pg-legacy-{uuid.uuid4().hex[:6]}", free_port()
    env = {**os.environ, "OFFERFLOW_PG_RUN_DIR": str(run_dir), "OFFERFLOW_PG_PORT": str(port)}
    bin_dir = ROOT / "deploy/postgres/bin"
    subprocess.run([str(bin_dir / "pg-start")], env=env, check=True, capture_output=True, timeout=120)
    try:
        asyncio.run(_make_legacy(run_dir, port))
        for f in (run_dir / "credentials").iterdir():
            f.unlink()
        out = subprocess.run([str(bin_dir / "pg-start")], env=env, check=True, capture_output=True, text=True,
                             timeout=120)
        assert "password authentication" in out.stderr
        asyncio.run(_check_migrated(run_dir, port))
    finally:
        subprocess.run([str(bin_dir / "pg-stop")], env=env, check=False, capture_output=True, timeout=60)
        shutil.rmtree(run_dir, ignore_errors=True)


async def _make_legacy(run_dir: Path, port: int) -> None:
    su = await asyncpg.connect(pgroles.dsn(run_dir, port, pgroles.SUPERUSER, "postgres"))
    try:
        await su.execute("CREATE ROLE offerflow LOGIN PASSWORD 'offerflow' CREATEDB")
        await su.execute("ALTER DATABASE offerflow OWNER TO offerflow")
        hba = run_dir / "data/pg_hba.conf"
        st = hba.stat()
        hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        os.chown(hba, st.st_uid, st.st_gid)
        await su.execute("SELECT pg_reload_conf()")
    finally:
        await su.close()
    legacy = await asyncpg.connect(f"postgresql://offerflow:anything@127.0.0.1:{port}/offerflow")  # trusted
    try:
        await legacy.execute("CREATE TABLE legacy_rows (v text); INSERT INTO legacy_rows VALUES ('kept')")
    finally:
        await legacy.close()


async def _check_migrated(run_dir: Path, port: int) -> None:
    for role in (pgroles.SUPERUSER, pgroles.OWNER, pgroles.APP, "offerflow"):
        with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
            await asyncpg.connect(f"postgresql://{role}:offerflow@127.0.0.1:{port}/offerflow")
    owner = await asyncpg.connect(pgroles.dsn(run_dir, port, pgroles.OWNER))
    try:
        assert await owner.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'legacy_rows'") == pgroles.OWNER
        assert await owner.fetchval("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'offerflow'") is False
    finally:
        await owner.close()
    app = await asyncpg.connect(pgroles.dsn(run_dir, port, pgroles.APP))
    try:
        await app.execute("INSERT INTO legacy_rows VALUES ('new')")
        assert sorted(await app.fetch("SELECT v FROM legacy_rows")) == [("kept",), ("new",)]
    finally:
        await app.close()
