"""Who takes part in an event: a committee or organization (the party) and its people."""

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base
from service.models.columns import UTCDateTime, new_id, utcnow
from service.models.directory import Committee, Organization


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (
        CheckConstraint(
            "(committee_id IS NOT NULL) <> (organization_id IS NOT NULL)", name="one_party"
        ),
        CheckConstraint("min_meetings >= 0 AND max_meetings >= min_meetings", name="meetings"),
        UniqueConstraint("event_id", "committee_id"),
        UniqueConstraint("event_id", "organization_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    committee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("committees.id", ondelete="RESTRICT")
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT")
    )
    # The party's badge is its first person's (see Person.badge_code): a party of one needs no
    # other, and badges printed per party before people had their own still check someone in.
    badge_code: Mapped[str] = mapped_column(String(16), unique=True)
    unavailable_slots: Mapped[list[int]] = mapped_column(JSON, default=list)
    min_meetings: Mapped[int] = mapped_column(Integer, default=0)
    max_meetings: Mapped[int] = mapped_column(Integer)
    # A committee keeps its own table all day; given by the scheduler when not set by hand.
    table_number: Mapped[int | None] = mapped_column(Integer)
    # Folded names, full pinyin, pinyin initials and phone tails of the party and its people,
    # space-separated, so the kiosk's search is one indexed-free LIKE over one row per party.
    search_names: Mapped[str] = mapped_column(Text, default="")
    search_pinyin: Mapped[str] = mapped_column(Text, default="")
    search_initials: Mapped[str] = mapped_column(Text, default="")
    phone_tails: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    people: Mapped[list["Person"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="Person.position"
    )
    committee: Mapped[Committee | None] = relationship(lazy="raise")
    organization: Mapped[Organization | None] = relationship(lazy="raise")

    # The party it carries: a committee or an organization (loaded with it where used).

    @property
    def party_id(self) -> uuid.UUID:
        """The committee's or the organization's id."""
        party = self.committee_id or self.organization_id
        assert party is not None
        return party

    @property
    def party_kind(self) -> str:
        """committee, enterprise, association or institute."""
        if self.committee_id is not None:
            return "committee"
        assert self.organization is not None
        return self.organization.kind

    @property
    def party_names(self) -> list[str]:
        """The names the party goes by, as stored, the Chinese name first."""
        if self.committee is not None:
            c = self.committee
            return [c.name_zh, c.name_en, c.designation]
        assert self.organization is not None
        o = self.organization
        return [n for n in (o.name_zh, o.name_en) if n]

    @property
    def party_name_en(self) -> str | None:
        """The party's English name, where it has one."""
        party = self.committee or self.organization
        assert party is not None
        return party.name_en

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Person(Base):
    __tablename__ = "people"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Each person's own badge: it checks that person in, and no one else.
    badge_code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
