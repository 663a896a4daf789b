"""The dev database's roles and the DSNs of their generated passwords (deploy/postgres/bin/pg-start writes them).

One file per role under ``<pg run dir>/credentials`` (mode 0600), made at the cluster's first start: the
passwords are never in the repository, and a new run dir means new passwords.
"""

from __future__ import annotations

from pathlib import Path

APP = "offerflow_app"  # the services: rows of the owner's tables, nothing else
OWNER = "offerflow_owner"  # owns the database and schema: migrations, rebuilds, tests that make databases
SUPERUSER = "postgres"
DATABASE = "offerflow"


def password(pg_run_dir: Path, role: str) -> str:
    """The generated password of ``role``; FileNotFoundError before pg-start made it."""
    return (pg_run_dir / "credentials" / role).read_text().strip()


def dsn(pg_run_dir: Path, port: int, role: str = APP, database: str = DATABASE) -> str:
    return f"postgresql://{role}:{password(pg_run_dir, role)}@127.0.0.1:{port}/{database}"


def env(pg_run_dir: Path, port: int) -> dict[str, str]:
    """The services' two DSNs, once the cluster has made its passwords ({} before: the stack's environment is
    needed to start the cluster, when there are none yet)."""
    try:
        return {"OFFERFLOW_DATABASE_DSN": dsn(pg_run_dir, port, APP),
                "OFFERFLOW_DATABASE_MIGRATION_DSN": dsn(pg_run_dir, port, OWNER)}
    except FileNotFoundError:
        return {}
