"""Statements built once on tables rather than mapped classes, where the ORM's per-statement
work would cost more than the statement: the door's and the request path's hot statements."""

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from service.db import Base


def table_of(model: type[Base]) -> Table:
    """A mapped class's table: statements on it skip the ORM's per-statement work."""
    return cast(Table, model.__table__)


# INSERT with ON CONFLICT clauses, by the name of the database's dialect: build the statement
# for each, and run the one of `session.get_bind().dialect.name`.
UPSERT_INSERTS: dict[str, Callable[[Any], "postgresql.Insert | sqlite.Insert"]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
