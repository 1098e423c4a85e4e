"""The directory's rules: the domain taxonomy, committees and organizations, imports."""

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from service.chinese import fold, like_pattern
from service.directory.schemas import (
    CommitteeIn,
    CommitteePatch,
    DomainWeight,
    OrganizationIn,
    OrganizationPatch,
    RowError,
)
from service.errors import Conflict, InUse, NotFound, Unprocessable
from service.integrity import delete_unless_referred, is_unique_violation
from service.models import Committee, CommitteeDomain, Domain, Organization, OrganizationDomain
from service.models.columns import utcnow
from service.versions import require_match, stamp_if_changed

DOMAIN_NAMESPACE = uuid.UUID("0b3c5d2e-6f71-4a8b-9c0d-1e2f3a4b5c6d")


class UnknownDomain(Unprocessable):
    code, title = "unknown_domain", "Unknown domain"


class DesignationTaken(Conflict):
    code, title = "designation_taken", "Designation already in use"


class CreditCodeTaken(Conflict):
    code, title = "credit_code_taken", "Credit code already in use"


class InvalidRows(Unprocessable):
    code, title = "invalid_rows", "Some rows are invalid; nothing was imported"


# --- the taxonomy -------------------------------------------------------------------------------


def domain_id(code: str) -> uuid.UUID:
    """The stable id of a domain code, the same on every database."""
    return uuid.uuid5(DOMAIN_NAMESPACE, code)


@dataclass(frozen=True)
class Taxonomy:
    """The domain forest, loaded once per process and database."""

    by_code: dict[str, Domain]
    by_id: dict[uuid.UUID, Domain]
    children: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)
    codes: dict[uuid.UUID, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", {id_: d.code for id_, d in self.by_id.items()})

    def code_of(self, id_: uuid.UUID) -> str:
        return self.by_id[id_].code

    def subtree(self, code: str) -> set[uuid.UUID]:
        """The ids of a domain and all its descendants."""
        root = self.by_code[code].id
        found, stack = set(), [root]
        while stack:
            node = stack.pop()
            found.add(node)
            stack.extend(self.children.get(node, ()))
        return found

    def resolve(
        self, weights: Sequence[DomainWeight], *, field_name: str = "domains"
    ) -> list[tuple[uuid.UUID, float]]:
        """Domain ids with their weights; 422 naming every unknown code."""
        unknown = [(i, w.domain) for i, w in enumerate(weights) if w.domain not in self.by_code]
        if unknown:
            raise UnknownDomain(
                "Unknown domain "
                + ", ".join(repr(c) for _, c in unknown)
                + "; see GET /v1/domains.",
                errors=[
                    {"field": f"{field_name}[{i}].domain", "message": f"unknown domain {c!r}"}
                    for i, c in unknown
                ],
            )
        return [(self.by_code[w.domain].id, w.weight) for w in weights]


# Domains change only when `migrate` syncs the shipped taxonomy, so a process reads them once per
# database (and again after it syncs them itself). Kept as copies that belong to no session, so
# no rollback or expiry can touch them.
_TAXONOMIES: dict[URL, Taxonomy] = {}


async def load_taxonomy(session: AsyncSession) -> Taxonomy:
    """Every domain, indexed by code and id, with the children of each."""
    database = session.get_bind().engine.url
    taxonomy = _TAXONOMIES.get(database)
    if taxonomy is not None:
        return taxonomy
    rows = await session.execute(select(Domain.__table__).order_by(Domain.position))
    domains = [Domain(**row) for row in rows.mappings()]
    children: dict[uuid.UUID, list[uuid.UUID]] = {}
    for d in domains:
        if d.parent_id is not None:
            children.setdefault(d.parent_id, []).append(d.id)
    taxonomy = Taxonomy({d.code: d for d in domains}, {d.id: d for d in domains}, children)
    if domains:
        _TAXONOMIES[database] = taxonomy
    return taxonomy


async def domain_codes(session: AsyncSession) -> dict[uuid.UUID, str]:
    """Every domain id's code, to show a profile's domain links as codes."""
    return (await load_taxonomy(session)).codes


def taxonomy_source() -> list[dict[str, Any]]:
    """The shipped bilingual taxonomy."""
    text = resources.files("service.directory").joinpath("taxonomy.json").read_text("utf-8")
    return list(json.loads(text))


async def sync_taxonomy(session: AsyncSession) -> int:
    """Bring the domains table in line with the shipped taxonomy; returns the number of domains."""
    existing = {d.code: d for d in (await session.scalars(select(Domain))).all()}
    source = taxonomy_source()
    for position, item in enumerate(source):
        values = {
            "parent_id": domain_id(item["parent"]) if item.get("parent") else None,
            "position": position,
            "name_en": item["name_en"],
            "name_zh_hans": item["name_zh_hans"],
            "name_zh_hant": item["name_zh_hant"],
            "synonyms": list(item.get("synonyms", [])),
        }
        domain = existing.get(item["code"])
        if domain is None:
            session.add(Domain(id=domain_id(item["code"]), code=item["code"], **values))
            # Parents come first in the file; flushing keeps the foreign key satisfied.
            await session.flush()
        else:
            for key, value in values.items():
                setattr(domain, key, value)
    await session.flush()
    _TAXONOMIES.clear()
    return len(existing | {item["code"]: None for item in source})


# --- committees ---------------------------------------------------------------------------------


def _committee_search_text(c: Committee) -> str:
    return fold(" ".join(filter(None, (c.designation, c.name_zh, c.name_en))))


def _organization_search_text(o: Organization) -> str:
    return fold(" ".join(filter(None, (o.name_zh, o.name_en, o.credit_code, o.region))))


async def get_committee(session: AsyncSession, *, committee_id: uuid.UUID) -> Committee:
    """One committee with its domains; 404 when there is none."""
    # One round trip: the domains joined, not fetched after.
    found = await session.execute(
        select(Committee).where(Committee.id == committee_id).options(joinedload(Committee.domains))
    )
    committee = found.unique().scalar_one_or_none()
    if committee is None:
        raise NotFound(f"No committee has id {committee_id}.")
    return committee


def _apply_committee(committee: Committee, values: dict[str, Any]) -> None:
    contact = values.pop("contact", ...)
    for key, value in values.items():
        setattr(committee, key, value)
    if contact is not ...:
        contact = contact or {}
        committee.contact_name = contact.get("name")
        committee.contact_email = contact.get("email")
        committee.contact_phone = contact.get("phone")
    committee.search_text = _committee_search_text(committee)


def _linked(
    links: list[Any], link_type: type[Any], weights: list[tuple[uuid.UUID, float]]
) -> list[Any]:
    """The new domain links, reusing the existing rows of domains that stay."""
    by_domain = {link.domain_id: link for link in links}
    result = []
    for position, (id_, weight) in enumerate(weights):
        link = by_domain.get(id_) or link_type(domain_id=id_)
        link.weight, link.position = weight, position
        result.append(link)
    return result


LinkValues = list[tuple[uuid.UUID, float, int]]


def _link_values(links: list[Any]) -> LinkValues:
    return [(link.domain_id, link.weight, link.position) for link in links]


async def _flush_unique(
    session: AsyncSession, checks: Iterable[tuple[str, str, Exception]]
) -> None:
    """Flush, turning a unique violation the database found into the matching 409."""
    try:
        await session.flush()
    except IntegrityError as exc:
        for table, column, error in checks:
            if is_unique_violation(exc, table=table, column=column):
                raise error from exc
        raise


async def create_committee(session: AsyncSession, *, data: CommitteeIn) -> Committee:
    """A new committee; 409 when its designation is taken."""
    taxonomy = await load_taxonomy(session)
    weights = taxonomy.resolve(data.domains)
    committee = Committee(domains=_linked([], CommitteeDomain, weights))
    _apply_committee(committee, data.model_dump(exclude={"domains"}))
    session.add(committee)
    await _flush_unique(
        session,
        [
            (
                "committees",
                "designation",
                DesignationTaken(
                    f"A committee with designation {data.designation} already exists."
                ),
            )
        ],
    )
    return committee


async def update_committee(
    session: AsyncSession, *, committee_id: uuid.UUID, patch: CommitteePatch, if_match: str | None
) -> Committee:
    """Apply the fields sent, against the version the client read."""
    committee = await get_committee(session, committee_id=committee_id)
    require_match(if_match, version=committee.version)
    values = patch.model_dump(include=patch.model_fields_set, exclude={"domains"})
    if "domains" in patch.model_fields_set and patch.domains is not None:
        taxonomy = await load_taxonomy(session)
        committee.domains = _linked(
            committee.domains, CommitteeDomain, taxonomy.resolve(patch.domains)
        )
    _apply_committee(committee, values)
    # Set even when only domains changed: the row update is what moves the version and ETag.
    committee.updated_at = utcnow()
    await _flush_unique(
        session,
        [
            (
                "committees",
                "designation",
                DesignationTaken(
                    f"A committee with designation {patch.designation} already exists."
                ),
            )
        ],
    )
    return committee


async def delete_committee(
    session: AsyncSession, *, committee_id: uuid.UUID, if_match: str | None
) -> None:
    """Remove a committee nothing refers to; 409 when intents, memoranda or events do."""
    committee = await get_committee(session, committee_id=committee_id)
    require_match(if_match, version=committee.version)
    await delete_unless_referred(
        session, committee, refused=_in_use(f"Committee {committee.designation}")
    )


def _in_use(label: str) -> InUse:
    return InUse(
        f"{label} is referred to by event registrations, meetings, intents or memoranda; "
        "remove those first."
    )


def _text_filter(column: Any, q: str | None) -> list[ColumnElement[bool]]:
    return [column.like(like_pattern(q), escape="\\")] if q else []


async def list_committees(
    session: AsyncSession,
    *,
    domain: str | None,
    level: str | None,
    q: str | None,
) -> Select[Committee]:
    """The filtered statement a page is read from."""
    stmt = select(Committee).options(selectinload(Committee.domains))
    if domain:
        subtree = await _subtree(session, domain)
        stmt = stmt.where(
            exists().where(
                CommitteeDomain.committee_id == Committee.id, CommitteeDomain.domain_id.in_(subtree)
            )
        )
    if level:
        stmt = stmt.where(Committee.level == level)
    return stmt.where(*_text_filter(Committee.search_text, q))


async def _subtree(session: AsyncSession, code: str) -> set[uuid.UUID]:
    taxonomy = await load_taxonomy(session)
    if code not in taxonomy.by_code:
        raise UnknownDomain(
            f"Unknown domain {code!r}; see GET /v1/domains.",
            errors=[{"field": "domain", "message": f"unknown domain {code!r}"}],
        )
    return taxonomy.subtree(code)


# --- organizations ------------------------------------------------------------------------------


async def get_organization(session: AsyncSession, *, organization_id: uuid.UUID) -> Organization:
    """One organization with its domains; 404 when there is none."""
    organization = await session.scalar(
        select(Organization)
        .where(Organization.id == organization_id)
        .options(selectinload(Organization.domains))
    )
    if organization is None:
        raise NotFound(f"No organization has id {organization_id}.")
    return organization


def _apply_organization(organization: Organization, values: dict[str, Any]) -> None:
    track = values.pop("track_record", None)
    for key, value in values.items():
        setattr(organization, key, value)
    if track is not None:
        organization.led_national = track["national"]
        organization.led_industry = track["industry"]
        organization.led_zhejiang_made = track["zhejiang_made"]
    organization.search_text = _organization_search_text(organization)


def _credit_code_taken(code: str | None) -> tuple[str, str, Exception]:
    return (
        "organizations",
        "credit_code",
        CreditCodeTaken(f"An organization with credit code {code} already exists."),
    )


async def create_organization(session: AsyncSession, *, data: OrganizationIn) -> Organization:
    """A new organization; 409 when its credit code is taken."""
    taxonomy = await load_taxonomy(session)
    organization = Organization(
        domains=_linked([], OrganizationDomain, taxonomy.resolve(data.domains))
    )
    _apply_organization(organization, data.model_dump(exclude={"domains"}))
    session.add(organization)
    await _flush_unique(session, [_credit_code_taken(data.credit_code)])
    return organization


async def update_organization(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    patch: OrganizationPatch,
    if_match: str | None,
) -> Organization:
    """Apply the fields sent, against the version the client read."""
    organization = await get_organization(session, organization_id=organization_id)
    require_match(if_match, version=organization.version)
    values = patch.model_dump(include=patch.model_fields_set, exclude={"domains"})
    if "domains" in patch.model_fields_set and patch.domains is not None:
        taxonomy = await load_taxonomy(session)
        organization.domains = _linked(
            organization.domains, OrganizationDomain, taxonomy.resolve(patch.domains)
        )
    _apply_organization(organization, values)
    organization.updated_at = utcnow()
    await _flush_unique(session, [_credit_code_taken(patch.credit_code)])
    return organization


async def delete_organization(
    session: AsyncSession, *, organization_id: uuid.UUID, if_match: str | None
) -> None:
    """Remove an organization nothing refers to; 409 when something does."""
    organization = await get_organization(session, organization_id=organization_id)
    require_match(if_match, version=organization.version)
    await delete_unless_referred(
        session, organization, refused=_in_use(f"Organization {organization.name_zh}")
    )


async def list_organizations(
    session: AsyncSession,
    *,
    domain: str | None,
    kind: str | None,
    region: str | None,
    q: str | None,
) -> Select[Organization]:
    """The filtered statement a page is read from."""
    stmt = select(Organization).options(selectinload(Organization.domains))
    if domain:
        subtree = await _subtree(session, domain)
        stmt = stmt.where(
            exists().where(
                OrganizationDomain.organization_id == Organization.id,
                OrganizationDomain.domain_id.in_(subtree),
            )
        )
    if kind:
        stmt = stmt.where(Organization.kind == kind)
    if region:
        stmt = stmt.where(Organization.search_text.like(like_pattern(region), escape="\\"))
    return stmt.where(*_text_filter(Organization.search_text, q))


# --- spreadsheets -------------------------------------------------------------------------------

COMMITTEE_COLUMNS = (
    "designation",
    "level",
    "name_zh",
    "name_en",
    "scope",
    "secretariat",
    "contact_name",
    "contact_email",
    "contact_phone",
    "domains",
)
ORGANIZATION_COLUMNS = (
    "kind",
    "name_zh",
    "name_en",
    "credit_code",
    "region",
    "domains",
    "needs",
    "led_national",
    "led_industry",
    "led_zhejiang_made",
)
_LIST_SEPARATORS = str.maketrans({"；": ";", "，": ";", ",": ";", "：": ":"})


def _domain_lookup(taxonomy: Taxonomy) -> dict[str, str]:
    """Every name a person may type for a domain, folded, to its code."""
    names: dict[str, str] = {}
    for d in taxonomy.by_code.values():
        for name in (d.code, d.name_en, d.name_zh_hans, d.name_zh_hant, *d.synonyms):
            names.setdefault(fold(name), d.code)
    return names


def parse_domains_cell(cell: str, lookup: dict[str, str]) -> list[dict[str, Any]]:
    """`物联网:0.8; ai:0.5` to domain weights; a name without a weight weighs 1."""
    result = []
    for part in cell.translate(_LIST_SEPARATORS).split(";"):
        if not part.strip():
            continue
        name, _, weight = part.partition(":")
        code = lookup.get(fold(name.strip()), name.strip())
        result.append({"domain": code, "weight": weight.strip() or 1.0})
    return result


def format_domains_cell(links: Iterable[Any], taxonomy: Taxonomy) -> str:
    """Domain weights as a spreadsheet cell that imports back unchanged."""
    return "; ".join(f"{taxonomy.code_of(link.domain_id)}:{link.weight:g}" for link in links)


def _committee_row(row: dict[str, str], lookup: dict[str, str]) -> dict[str, Any]:
    contact = {k: row.get(f"contact_{k}") or None for k in ("name", "email", "phone")}
    return {
        "designation": row.get("designation", ""),
        "level": row.get("level", ""),
        "name_zh": row.get("name_zh", ""),
        "name_en": row.get("name_en", ""),
        "scope": row.get("scope", ""),
        "secretariat": row.get("secretariat") or None,
        "contact": contact if any(contact.values()) else None,
        "domains": parse_domains_cell(row.get("domains", ""), lookup),
    }


def _organization_row(row: dict[str, str], lookup: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": row.get("kind", ""),
        "name_zh": row.get("name_zh", ""),
        "name_en": row.get("name_en") or None,
        "credit_code": row.get("credit_code") or None,
        "region": row.get("region") or None,
        "domains": parse_domains_cell(row.get("domains", ""), lookup),
        "needs": row.get("needs", ""),
        "track_record": {
            "national": row.get("led_national") or 0,
            "industry": row.get("led_industry") or 0,
            "zhejiang_made": row.get("led_zhejiang_made") or 0,
        },
    }


def _validate_rows(
    rows: list[tuple[int, dict[str, str]]],
    to_input: Any,
    schema: type[CommitteeIn] | type[OrganizationIn],
    taxonomy: Taxonomy,
    key_of: Any,
    key_name: str,
) -> list[Any]:
    """Every row as input, or InvalidRows naming every bad row at once."""
    lookup = _domain_lookup(taxonomy)
    errors: list[RowError] = []
    parsed: list[Any] = []
    seen: dict[Any, int] = {}
    if not rows:
        raise InvalidRows("The file has a header but no data rows.", errors=[])
    for number, row in rows:
        try:
            data = schema.model_validate(to_input(row, lookup))
        except ValidationError as exc:
            errors.extend(
                RowError(
                    row=number, field=".".join(str(p) for p in e["loc"]) or "row", message=e["msg"]
                )
                for e in exc.errors()
            )
            continue
        unknown = [d.domain for d in data.domains if d.domain not in taxonomy.by_code]
        errors.extend(
            RowError(row=number, field="domains", message=f"unknown domain {c!r}") for c in unknown
        )
        key = key_of(data)
        if key in seen:
            errors.append(RowError(row=number, field=key_name, message=f"repeats row {seen[key]}"))
        else:
            seen[key] = number
        parsed.append(data)
    if errors:
        bad = sorted({e.row for e in errors})
        raise InvalidRows(
            f"{len(bad)} of {len(rows)} rows are invalid (rows {', '.join(map(str, bad[:20]))}"
            f"{', …' if len(bad) > 20 else ''}); nothing was imported.",
            errors=[e.model_dump() for e in errors],
        )
    return parsed


async def import_committees(
    session: AsyncSession, *, rows: list[tuple[int, dict[str, str]]]
) -> tuple[int, int]:
    """Create or update committees by designation, all or nothing; (created, updated)."""
    taxonomy = await load_taxonomy(session)
    items: list[CommitteeIn] = _validate_rows(
        rows, _committee_row, CommitteeIn, taxonomy, lambda c: c.designation, "designation"
    )
    return await upsert_committees(session, items=items, taxonomy=taxonomy)


async def upsert_committees(
    session: AsyncSession, *, items: list[CommitteeIn], taxonomy: Taxonomy
) -> tuple[int, int]:
    """Create or update committees keyed on designation; (created, updated)."""
    existing = {
        c.designation: c
        for c in (
            await session.scalars(
                select(Committee)
                .where(Committee.designation.in_([i.designation for i in items]))
                .options(selectinload(Committee.domains))
            )
        ).all()
    }
    for item in items:
        committee = existing.get(item.designation)
        if committee is None:
            committee = Committee(domains=[])
            session.add(committee)
        links = _link_values(committee.domains)
        committee.domains = _linked(
            committee.domains, CommitteeDomain, taxonomy.resolve(item.domains)
        )
        _apply_committee(committee, item.model_dump(exclude={"domains"}))
        stamp_if_changed(
            session, committee, children_changed=_link_values(committee.domains) != links
        )
    await session.flush()
    return len(items) - len(existing), len(existing)


def _organization_key(o: OrganizationIn | Organization) -> str:
    return o.credit_code or f"name:{fold(o.name_zh)}"


async def import_organizations(
    session: AsyncSession, *, rows: list[tuple[int, dict[str, str]]]
) -> tuple[int, int]:
    """Create or update organizations by credit code (by name where none), all or nothing."""
    taxonomy = await load_taxonomy(session)
    items: list[OrganizationIn] = _validate_rows(
        rows, _organization_row, OrganizationIn, taxonomy, _organization_key, "credit_code"
    )
    return await upsert_organizations(session, items=items, taxonomy=taxonomy)


async def upsert_organizations(
    session: AsyncSession, *, items: list[OrganizationIn], taxonomy: Taxonomy
) -> tuple[int, int]:
    """Create or update organizations keyed on credit code, or name where there is none."""
    codes = [i.credit_code for i in items if i.credit_code]
    names = [i.name_zh for i in items if not i.credit_code]
    candidates = (
        await session.scalars(
            select(Organization)
            .where(
                Organization.credit_code.in_(codes)
                | (Organization.credit_code.is_(None) & Organization.name_zh.in_(names))
            )
            .options(selectinload(Organization.domains))
        )
    ).all()
    existing = {_organization_key(o): o for o in candidates}
    updated = 0
    for item in items:
        organization = existing.get(_organization_key(item))
        if organization is None:
            organization = Organization(domains=[])
            session.add(organization)
        else:
            updated += 1
        links = _link_values(organization.domains)
        organization.domains = _linked(
            organization.domains, OrganizationDomain, taxonomy.resolve(item.domains)
        )
        _apply_organization(organization, item.model_dump(exclude={"domains"}))
        stamp_if_changed(
            session, organization, children_changed=_link_values(organization.domains) != links
        )
    await session.flush()
    return len(items) - updated, updated


async def committee_rows(session: AsyncSession) -> list[list[Any]]:
    """Every committee as a spreadsheet row, in the import's columns."""
    taxonomy = await load_taxonomy(session)
    committees = (
        await session.scalars(
            select(Committee)
            .order_by(Committee.designation)
            .options(selectinload(Committee.domains))
        )
    ).all()
    return [
        [
            c.designation,
            c.level,
            c.name_zh,
            c.name_en,
            c.scope,
            c.secretariat,
            c.contact_name,
            c.contact_email,
            c.contact_phone,
            format_domains_cell(c.domains, taxonomy),
        ]
        for c in committees
    ]


async def organization_rows(session: AsyncSession) -> list[list[Any]]:
    """Every organization as a spreadsheet row, in the import's columns."""
    taxonomy = await load_taxonomy(session)
    organizations = (
        await session.scalars(
            select(Organization)
            .order_by(Organization.created_at, Organization.id)
            .options(selectinload(Organization.domains))
        )
    ).all()
    return [
        [
            o.kind,
            o.name_zh,
            o.name_en,
            o.credit_code,
            o.region,
            format_domains_cell(o.domains, taxonomy),
            o.needs,
            o.led_national,
            o.led_industry,
            o.led_zhejiang_made,
        ]
        for o in organizations
    ]
