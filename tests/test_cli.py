"""The command line as a user runs it: migrate, load the demo, keys, import and export."""

import asyncio
import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from service.config import Settings
from service.db import Base, create_engine
from service.models import ApiKey, IdempotencyRecord, OutboxEvent
from tests.support import CliRun, run_cli


def run(
    database_url: str, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> CliRun:
    return run_cli(*args, env={**(env or {}), "DATABASE_URL": database_url}, check=check)


@pytest.fixture
def migrated(scratch_url: str) -> str:
    out = run(scratch_url, "migrate")
    assert "database at head" in out.stdout
    return scratch_url


def every_row(database_url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table of the service's schema, as text, in a stable order."""

    async def read() -> dict[str, list[tuple[str, ...]]]:
        engine = create_engine(Settings(database_url=database_url))
        try:
            async with engine.connect() as connection:
                return {
                    table.name: sorted(
                        tuple(map(str, row)) for row in await connection.execute(select(table))
                    )
                    for table in Base.metadata.sorted_tables
                }
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_load_demo_twice_gives_the_same_22_and_35(migrated: str, tmp_path: Path) -> None:
    assert "22 committees, 35 organizations" in run(migrated, "load-demo").stdout
    once = every_row(migrated)
    assert len(once["committees"]) == 22 and len(once["organizations"]) == 35
    assert len(once["events"]) == 1 and len(once["participants"]) == 57
    assert "22 committees, 35 organizations" in run(migrated, "load-demo").stdout
    # A second load changes nothing, in any table: no row, id, version or timestamp.
    again = every_row(migrated)
    assert [t for t in once if again[t] != once[t]] == []
    assert "not loaded" in run(migrated, "load-demo", "--if-empty").stdout
    run(migrated, "export", "committees", "--output", str(tmp_path / "c.csv"))
    run(
        migrated,
        "export",
        "organizations",
        "--format",
        "xlsx",
        "--output",
        str(tmp_path / "o.xlsx"),
    )
    rows = list(csv.DictReader(io.StringIO((tmp_path / "c.csv").read_text("utf-8-sig"))))
    assert len(rows) == 22 and len({r["designation"] for r in rows}) == 22
    imported = run(migrated, "import", "organizations", str(tmp_path / "o.xlsx"))
    assert "0 created, 0 updated, 35 unchanged" in imported.stdout


def test_import_reports_every_bad_row_and_fails(migrated: str, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "kind,name_zh,credit_code\n"
        "enterprise,温州好企业,\n"
        "spaceship,温州怪企业,\n"
        "enterprise,温州坏代码企业,123\n",
        encoding="utf-8",
    )
    result = run(migrated, "import", "organizations", str(roster), check=False)
    assert result.returncode == 2
    assert "row 3, kind" in result.stderr
    assert "row 4, credit_code" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run(migrated, "import", "organizations", str(tmp_path / "nope.csv"), check=False)
    assert missing.returncode == 2 and "nope.csv" in missing.stderr


def test_create_api_key_prints_the_secret_last(migrated: str) -> None:
    result = run(migrated, "create-api-key", "--role", "kiosk", "--name", "Hall A")
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("smk_") and len(last) > 40
    refused = run(migrated, "create-api-key", "--role", "partner", "--name", "x", check=False)
    assert refused.returncode == 2 and "exactly one committee or organization" in refused.stderr


def test_create_api_key_gives_a_kiosk_its_permissions(migrated: str) -> None:
    allowed = run(
        migrated,
        "create-api-key",
        "--role",
        "kiosk",
        "--name",
        "Desk",
        "--allow",
        "walk_in,undo_checkin",
    )
    key_id = allowed.stdout.split("created kiosk key ")[1].split()[0]
    engine = create_engine(Settings(database_url=migrated))

    async def permissions() -> list[str]:
        async with engine.connect() as connection:
            stored = await connection.scalar(
                select(ApiKey.permissions).where(ApiKey.id == uuid.UUID(key_id))
            )
        await engine.dispose()
        return list(stored)

    assert asyncio.run(permissions()) == ["undo_checkin", "walk_in"]
    unknown = run(
        migrated, "create-api-key", "--role", "kiosk", "--name", "x", "--allow", "all", check=False
    )
    assert unknown.returncode == 2 and "unknown permission all" in unknown.stderr


def test_openapi_command_writes_the_contract(tmp_path: Path) -> None:
    out = tmp_path / "openapi.yaml"
    run("sqlite+aiosqlite:///unused.db", "openapi", "--output", str(out))
    committed = Path(__file__).resolve().parent.parent / "openapi.yaml"
    assert out.read_text("utf-8") == committed.read_text("utf-8")


def seed_purgeable(database_url: str) -> None:
    """Two expired idempotency records and a live one; 1,003 webhook events 8 days old (more
    than one of purge's batches) and a new one."""
    now, hour = datetime.now(UTC), timedelta(hours=1)

    async def seed() -> None:
        engine = create_engine(Settings(database_url=database_url))
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    insert(IdempotencyRecord),
                    [
                        {"scope": "s", "key": f"k{n}", "fingerprint": "f", "expires_at": at}
                        for n, at in enumerate([now - hour] * 2 + [now + hour])
                    ],
                )
                await connection.execute(
                    insert(OutboxEvent),
                    [
                        {"id": uuid.uuid4(), "type": "t", "payload": {}, "created_at": at}
                        for at in [now - timedelta(days=8)] * 1_003 + [now]
                    ],
                )
        finally:
            await engine.dispose()

    asyncio.run(seed())


def test_purge_deletes_in_batches_what_has_expired_and_keeps_the_rest(migrated: str) -> None:
    seed_purgeable(migrated)
    out = run(migrated, "purge", env={"WEBHOOK_RETENTION_DAYS": "7"}).stdout.splitlines()
    assert out == [
        "2 expired idempotency records deleted",
        "1003 finished webhook events older than 7 days deleted, with their attempts",
    ]
    left = every_row(migrated)
    assert len(left["idempotency_records"]) == 1 and len(left["outbox_events"]) == 1
    again = run(migrated, "purge", env={"WEBHOOK_RETENTION_DAYS": "7"}).stdout.splitlines()
    assert again[0].startswith("0 ") and again[1].startswith("0 ")
