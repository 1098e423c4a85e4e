"""directory search finds pinyin and initials in every field: the search text of committees and
organizations is built again (wenzhou and wz find the region 浙江省温州市)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.chinese import fold, search_key

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIELDS = {
    "committees": ("designation", "name_zh", "name_en"),
    "organizations": ("name_zh", "name_en", "credit_code", "region"),
}


def _rebuild(build: object) -> None:
    connection = op.get_bind()
    for name, fields in FIELDS.items():
        table = sa.table(name, sa.column("id", sa.Uuid()), sa.column("search_text", sa.Text()))
        columns = [sa.column(f, sa.Text()) for f in fields]
        rows = connection.execute(sa.select(table.c.id, *columns).select_from(table)).all()
        for row in rows:
            text = build(*row[1:])  # type: ignore[operator]
            connection.execute(
                sa.update(table).where(table.c.id == row[0]).values(search_text=text)
            )


def upgrade() -> None:
    _rebuild(search_key)


def downgrade() -> None:
    _rebuild(lambda *texts: fold(" ".join(filter(None, texts))))
