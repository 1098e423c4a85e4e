"""The directory: the domain taxonomy, committees and organizations with their domains."""

import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from service.db import Base
from service.models.columns import Timestamped, new_id, one_of

COMMITTEE_LEVELS = ("international", "national", "industry", "provincial")
ORGANIZATION_KINDS = ("enterprise", "association", "institute")


class Domain(Base):
    __tablename__ = "domains"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("domains.id"))
    position: Mapped[int] = mapped_column(Integer)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh_hans: Mapped[str] = mapped_column(String(200))
    name_zh_hant: Mapped[str] = mapped_column(String(200))
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Words that say what belongs in the domain, read when inferring a profile's domains.
    description_zh: Mapped[str] = mapped_column(Text, default="", server_default="")
    description_en: Mapped[str] = mapped_column(Text, default="", server_default="")


class ProfileDomainLink:
    """A profile's link to one domain, weighted and perhaps inferred: the same columns for
    committees and organizations, whose link tables differ only in the profile they belong to.
    (An agreement's DomainLink carries no weight: it only names the domain.)"""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (CheckConstraint("weight > 0 AND weight <= 1", name="weight"),)

    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domains.id"), primary_key=True)
    weight: Mapped[float] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Read from the profile's own words rather than set by a person; the weight is then the
    # inference's confidence. A profile has inferred links only while a person set none.
    inferred: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Committee(Timestamped, Base):
    __tablename__ = "committees"
    __table_args__ = (CheckConstraint(one_of("level", COMMITTEE_LEVELS), name="level"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    designation: Mapped[str] = mapped_column(String(100), unique=True)
    level: Mapped[str] = mapped_column(String(20))
    name_zh: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    scope: Mapped[str] = mapped_column(Text, default="")
    secretariat: Mapped[str | None] = mapped_column(String(300))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    # Folded (simplified, case-folded) names and designation, so `q` finds either script.
    search_text: Mapped[str] = mapped_column(Text, default="")

    domains: Mapped[list["CommitteeDomain"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="CommitteeDomain.position"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CommitteeDomain(ProfileDomainLink, Base):
    __tablename__ = "committee_domains"

    committee_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("committees.id", ondelete="CASCADE"), primary_key=True
    )


# Apart from Committee although they start alike (id, version): each table's columns are its
# schema, read here at a glance; what the two profiles really share is in ProfileDomainLink.
class Organization(Timestamped, Base):
    __tablename__ = "organizations"
    __table_args__ = (CheckConstraint(one_of("kind", ORGANIZATION_KINDS), name="kind"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(20))
    name_zh: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    region: Mapped[str | None] = mapped_column(String(100))
    needs: Mapped[str] = mapped_column(Text, default="")
    # 经营范围, as registered: what the organization may make and sell.
    business_scope: Mapped[str] = mapped_column(Text, default="", server_default="")
    led_national: Mapped[int] = mapped_column(Integer, default=0)
    led_industry: Mapped[int] = mapped_column(Integer, default=0)
    led_zhejiang_made: Mapped[int] = mapped_column(Integer, default=0)
    search_text: Mapped[str] = mapped_column(Text, default="")

    domains: Mapped[list["OrganizationDomain"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="OrganizationDomain.position"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class OrganizationDomain(ProfileDomainLink, Base):
    __tablename__ = "organization_domains"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
