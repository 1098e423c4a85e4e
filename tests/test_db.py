"""The engine as configured: what a failed statement's error (and so a log line) may carry."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.config import Settings
from service.db import create_engine


async def test_a_failed_statement_does_not_carry_its_parameters(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        with pytest.raises(DBAPIError) as failed:
            async with engine.begin() as connection:
                await connection.execute(
                    text("SELECT * FROM no_such_table WHERE phone = :phone"),
                    {"phone": "13800138000"},
                )
    finally:
        await engine.dispose()
    assert "no_such_table" in str(failed.value)
    assert "13800138000" not in str(failed.value)
