"""every person has a badge of their own, and check-ins are per person

The party's badge becomes its first person's, so badges already printed still check someone in;
every other person gets a fresh code. Existing check-ins are the first person's.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 00:00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As service/badges.py draws them, copied so that this migration never changes.
ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("badge_code", sa.String(length=16), nullable=True))
    connection = op.get_bind()
    people = connection.execute(
        sa.text(
            "SELECT pe.id, pe.participant_id, pa.badge_code FROM people pe "
            "JOIN participants pa ON pa.id = pe.participant_id "
            "ORDER BY pe.participant_id, pe.position, pe.id"
        )
    ).all()
    first_of: dict[object, object] = {}
    taken = {row.badge_code for row in people}
    for person_id, participant_id, party_code in people:
        if participant_id not in first_of:
            first_of[participant_id] = person_id
            code = party_code
        else:
            code = _new_code()
            while code in taken:
                code = _new_code()
            taken.add(code)
        connection.execute(
            sa.text("UPDATE people SET badge_code = :code WHERE id = :id"),
            {"code": code, "id": person_id},
        )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.alter_column("badge_code", existing_type=sa.String(length=16), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_people_badge_code"), ["badge_code"])

    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_checkins_person_id_people"),
            "people",
            ["person_id"],
            ["id"],
            ondelete="SET NULL",
        )
    for participant_id, person_id in first_of.items():
        connection.execute(
            sa.text("UPDATE checkins SET person_id = :person WHERE participant_id = :party"),
            {"person": person_id, "party": participant_id},
        )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_checkins_participant_id"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_checkins_person_id"), ["person_id"])

    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_scans_person_id_people"), "people", ["person_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_scans_person_id_people"), type_="foreignkey")
        batch_op.drop_column("person_id")
    # One check-in per party again: the earliest of its people's.
    op.execute(
        "DELETE FROM checkins WHERE id NOT IN (SELECT id FROM (SELECT c.id, ROW_NUMBER() OVER "
        "(PARTITION BY c.participant_id ORDER BY c.checked_in_at, c.id) AS n FROM checkins c) "
        "ranked WHERE n = 1)"
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_checkins_person_id"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_checkins_participant_id"), ["participant_id"])
        batch_op.drop_constraint(op.f("fk_checkins_person_id_people"), type_="foreignkey")
        batch_op.drop_column("person_id")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_people_badge_code"), type_="unique")
        batch_op.drop_column("badge_code")
