"""Cooperation intents and memoranda, with every transition of their state and every signature.

Twins, and where they part: an intent's and a memorandum's domain links and state transitions are
the same tables but for the foreign key, so their columns are written once (`DomainLink`,
`TransitionRecord`) and each table adds only its key. The records themselves only look alike: an
intent binds exactly one committee to one organization and is proposed by one of them, a
memorandum has any number of signatories, each of whom signs; so `Intent` and `Memorandum` stay
apart.
"""

import uuid
from datetime import date as datetime_date
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base
from service.models.columns import Timestamped, UTCDateTime, new_id, one_of, utcnow

INTENT_STATES = ("proposed", "confirmed", "in_progress", "fulfilled", "withdrawn")
# "proposed" until each signatory has signed; only then "signed".
MEMORANDUM_STATES = ("proposed", "signed", "active", "expired", "terminated")
INTENT_SIDES = ("committee", "organization")
# What a signatory consents to: the memorandum itself, or its termination.
CONSENT_ACTS = ("sign", "terminate")


class DomainLink:
    """A record's domain, in the order given (the record's key is declared by each table)."""

    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domains.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ActedBy:
    """Who did something: the key, with its name and role copied so the record still reads after
    the key is gone, and when."""

    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TransitionRecord(ActedBy):
    """One change of a record's state (from_state is null for its creation), never altered."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")


class Intent(Timestamped, Base):
    """A cooperation intent between one committee and one organization."""

    __tablename__ = "intents"
    __table_args__ = (
        CheckConstraint(one_of("state", INTENT_STATES), name="state"),
        CheckConstraint(
            f"proposed_by IS NULL OR {one_of('proposed_by', INTENT_SIDES)}", name="proposed_by"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # RESTRICT: the directory answers 409 in_use rather than lose the agreement with a party.
    committee_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("committees.id", ondelete="RESTRICT"), index=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    # The side whose key proposed it, which may not confirm it alone; null when an admin (or the
    # demo data) recorded it for both.
    proposed_by: Mapped[str | None] = mapped_column(String(20))
    event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("events.id", ondelete="RESTRICT"), index=True
    )
    meeting_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL")
    )
    summary: Mapped[str] = mapped_column(Text, default="")
    target_date: Mapped[datetime_date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default="proposed")
    committee_contact_name: Mapped[str | None] = mapped_column(String(300))
    committee_contact_email: Mapped[str | None] = mapped_column(String(254))
    committee_contact_phone: Mapped[str | None] = mapped_column(String(40))
    organization_contact_name: Mapped[str | None] = mapped_column(String(300))
    organization_contact_email: Mapped[str | None] = mapped_column(String(254))
    organization_contact_phone: Mapped[str | None] = mapped_column(String(40))

    domains: Mapped[list["IntentDomain"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="IntentDomain.position"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class IntentDomain(DomainLink, Base):
    __tablename__ = "intent_domains"

    intent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("intents.id", ondelete="CASCADE"), primary_key=True
    )


class IntentTransition(TransitionRecord, Base):
    __tablename__ = "intent_transitions"

    intent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("intents.id", ondelete="CASCADE"), index=True
    )


class Memorandum(Timestamped, Base):
    """A memorandum of understanding; signed once each signatory has, then only its state
    changes."""

    __tablename__ = "memoranda"
    __table_args__ = (
        CheckConstraint(one_of("state", MEMORANDUM_STATES), name="state"),
        CheckConstraint(
            "effective_to IS NULL OR effective_to >= effective_from", name="effective_period"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("events.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str | None] = mapped_column(String(300))
    signed_on: Mapped[datetime_date] = mapped_column(Date)
    effective_from: Mapped[datetime_date] = mapped_column(Date)
    effective_to: Mapped[datetime_date | None] = mapped_column(Date)
    document_uri: Mapped[str] = mapped_column(String(2000))
    document_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default="signed")
    notes: Mapped[str] = mapped_column(Text, default="")

    signatories: Mapped[list["MemorandumSignatory"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="MemorandumSignatory.position"
    )
    domains: Mapped[list["MemorandumDomain"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="MemorandumDomain.position"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class MemorandumSignatory(Base):
    __tablename__ = "memorandum_signatories"
    __table_args__ = (
        CheckConstraint(
            "(committee_id IS NOT NULL) <> (organization_id IS NOT NULL)", name="one_party"
        ),
        UniqueConstraint("memorandum_id", "committee_id"),
        UniqueConstraint("memorandum_id", "organization_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    memorandum_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("memoranda.id", ondelete="CASCADE"))
    committee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("committees.id", ondelete="RESTRICT"), index=True
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)

    consents: Mapped[list["MemorandumConsent"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="MemorandumConsent.created_at"
    )

    def consent(self, act: str) -> "MemorandumConsent | None":
        """This signatory's signature ("sign") or request to terminate ("terminate"), if given."""
        return next((c for c in self.consents if c.act == act), None)


class MemorandumConsent(ActedBy, Base):
    """A signatory's signature, or its request to terminate, with the key that gave it; kept
    forever. One of each per signatory, which the database settles when two keys race."""

    __tablename__ = "memorandum_consents"
    __table_args__ = (
        CheckConstraint(one_of("act", CONSENT_ACTS), name="act"),
        UniqueConstraint("signatory_id", "act"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    signatory_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("memorandum_signatories.id", ondelete="CASCADE")
    )
    act: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")


class MemorandumDomain(DomainLink, Base):
    __tablename__ = "memorandum_domains"

    memorandum_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("memoranda.id", ondelete="CASCADE"), primary_key=True
    )


class MemorandumTransition(TransitionRecord, Base):
    __tablename__ = "memorandum_transitions"

    memorandum_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("memoranda.id", ondelete="CASCADE"), index=True
    )
