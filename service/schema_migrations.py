"""The database schema as Alembic migrations define it: upgrade, and whether it is at head."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    """The project's Alembic configuration, wherever the command runs from."""
    return Config(str(ROOT / "alembic.ini"))


def upgrade(connection: Connection | None = None, revision: str = "heads") -> None:
    """Migrate to `revision`, on the given connection or on the configured database."""
    config = alembic_config()
    if connection is not None:
        config.attributes["connection"] = connection
    command.upgrade(config, revision)


def downgrade(connection: Connection, revision: str = "base") -> None:
    """Migrate down to `revision` on the given connection."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def is_at_head(connection: Connection) -> bool:
    """Whether the database's revision is the newest migration."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads
