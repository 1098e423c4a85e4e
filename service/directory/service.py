"""The directory's rules: the domain taxonomy, committees and organizations, imports."""

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from service.chinese import fold, like_pattern, search_key
from service.db import DriverStatement, on_driver
from service.directory.schemas import (
    CommitteeIn,
    CommitteePatch,
    OrganizationIn,
    OrganizationPatch,
    RowError,
)

# Re-exported: the meetings, agreements and demo code, the tests and the command line read the
# taxonomy through this module.
from service.directory.taxonomy import Taxonomy as Taxonomy
from service.directory.taxonomy import UnknownDomain as UnknownDomain
from service.directory.taxonomy import load_taxonomy as load_taxonomy
from service.directory.taxonomy import sync_taxonomy as sync_taxonomy
from service.errors import Conflict, InUse, NotFound, Unprocessable
from service.integrity import delete_unless_referred, is_unique_violation
from service.models import Committee, CommitteeDomain, Organization, OrganizationDomain
from service.versions import require_match, stamp_if_changed


class DesignationTaken(Conflict):
    code, title = "designation_taken", "Designation already in use"


class CreditCodeTaken(Conflict):
    code, title = "credit_code_taken", "Credit code already in use"


class InvalidRows(Unprocessable):
    code, title = "invalid_rows", "Some rows are invalid; nothing was imported"


async def refresh_inferred(session: AsyncSession, *, taxonomy: Taxonomy) -> int:
    """Read again the domains of every profile no person chose domains for; after a taxonomy
    sync, whose names and descriptions the reading depends on. Returns how many changed."""
    committees = await session.scalars(select(Committee).options(selectinload(Committee.domains)))
    organizations = await session.scalars(
        select(Organization).options(selectinload(Organization.domains))
    )
    changed = 0
    sides: list[tuple[Any, Any, Any]] = [
        (committees.all(), CommitteeDomain, committee_words),
        (organizations.all(), OrganizationDomain, organization_words),
    ]
    for rows, link_type, words in sides:
        for row in rows:
            if any(not link.inferred for link in row.domains):
                continue
            before = _link_values(row.domains)
            row.domains = _profile_links(
                row.domains, link_type, chosen=[], words=words(row), taxonomy=taxonomy
            )
            if _link_values(row.domains) != before:
                stamp_if_changed(session, row, children_changed=True)
                changed += 1
    await session.flush()
    return changed


# --- what committees and organizations share ------------------------------------------------------
#
# Committees and organizations are both profiles: a row with domain links, its own words, a
# version. Reading one, writing its fields and links, and deleting it are the same rules on
# different columns, written once below with `Side` choosing the columns. Kept apart, because
# they only look alike: their fields (a committee's contact, an organization's track record),
# their unique keys (designation; credit code, or the name where there is none), their
# spreadsheet columns, and how the API shows them (a committee's contact is private).

# Which side of the directory a profile is on.
Side = Literal["committee", "organization"]


@dataclass(frozen=True, slots=True)
class _Rules:
    model: Any
    link: Any
    label: str
    apply: Callable[[Any, dict[str, Any]], None]
    words: Callable[[Any], str]
    taken: Callable[[Any], list[tuple[str, str, Exception]]]
    # How a 409 for a profile still referred to names it.
    in_use: Callable[[Any], str]
    # The spreadsheet's columns (each an attribute, but for the domains cell) and row order.
    columns: tuple[str, ...]
    export_order: tuple[Any, ...]


def _designation_taken(designation: str | None) -> list[tuple[str, str, Exception]]:
    return [
        (
            "committees",
            "designation",
            DesignationTaken(f"A committee with designation {designation} already exists."),
        )
    ]


def _credit_code_taken(code: str | None) -> list[tuple[str, str, Exception]]:
    return [
        (
            "organizations",
            "credit_code",
            CreditCodeTaken(f"An organization with credit code {code} already exists."),
        )
    ]


def _rules(side: Side) -> _Rules:
    if side == "committee":
        return _Rules(
            Committee,
            CommitteeDomain,
            "committee",
            _apply_committee,
            committee_words,
            lambda data: _designation_taken(data.designation),
            lambda row: f"Committee {row.designation}",
            COMMITTEE_COLUMNS,
            (Committee.designation,),
        )
    return _Rules(
        Organization,
        OrganizationDomain,
        "organization",
        _apply_organization,
        organization_words,
        lambda data: _credit_code_taken(data.credit_code),
        lambda row: f"Organization {row.name_zh}",
        ORGANIZATION_COLUMNS,
        (Organization.created_at, Organization.id),
    )


async def _get(session: AsyncSession, side: Side, id_: uuid.UUID) -> Any:
    rules = _rules(side)
    # One round trip: the domains joined, not fetched after.
    found = await session.execute(
        select(rules.model).where(rules.model.id == id_).options(joinedload(rules.model.domains))
    )
    row = found.unique().scalar_one_or_none()
    if row is None:
        raise not_found(side, id_)
    return row


def not_found(side: Side, id_: uuid.UUID) -> NotFound:
    """The 404 of a committee or organization that does not exist."""
    return NotFound(f"No {_rules(side).label} has id {id_}.")


def _read_statement(model: Any, link: Any) -> Select[Any]:
    # The link's columns beside the profile's (no profile has columns of these names): one row
    # per link, or one row of NULL links for a profile without domains.
    return (
        select(model.__table__, link.domain_id, link.weight, link.inferred)
        .select_from(model.__table__.outerjoin(link.__table__))
        .where(model.id == bindparam("id"))
        .order_by(link.position)
    )


_READ = {
    "committee": _read_statement(Committee, CommitteeDomain),
    "organization": _read_statement(Organization, OrganizationDomain),
}
# On PostgreSQL, the same statements sent to the driver: a GET of one profile is a partner's
# hottest read, and SQLAlchemy's execution was a fifth of its CPU.
_READ_ON_DRIVER = {side: DriverStatement(statement) for side, statement in _READ.items()}


async def read_profile(
    connection: AsyncConnection, side: Side, id_: uuid.UUID
) -> tuple[Any, list[Any]]:
    """A profile to answer with, read in one statement without the ORM or a session (a GET's
    answer needs no objects to track): its row, and its domain links in their order (rows with
    `domain_id`, `weight` and `inferred`), columns read as attributes; 404 when there is
    none."""
    rows: Sequence[Any]
    if connection.dialect.name == "postgresql":
        async with on_driver(connection) as driver:
            rows = await _READ_ON_DRIVER[side].fetch(driver, {"id": id_})
    else:
        rows = (await connection.execute(_READ[side], {"id": id_})).all()
    if not rows:
        raise not_found(side, id_)
    return rows[0], [row for row in rows if row.domain_id is not None]


async def _create(
    session: AsyncSession, side: Side, *, data: CommitteeIn | OrganizationIn, taxonomy: Taxonomy
) -> Any:
    rules = _rules(side)
    chosen = taxonomy.resolve(data.domains)
    row = rules.model(domains=[])
    rules.apply(row, data.model_dump(exclude={"domains"}))
    row.domains = _profile_links(
        [], rules.link, chosen=chosen, words=rules.words(row), taxonomy=taxonomy
    )
    session.add(row)
    await _flush_unique(session, rules.taken(data))
    return row


def _write(
    session: AsyncSession,
    rules: _Rules,
    row: Any,
    values: dict[str, Any],
    *,
    chosen: list[tuple[uuid.UUID, float]] | None,
    taxonomy: Taxonomy,
) -> bool:
    """Set a profile's fields and its domains (`chosen` None keeps the person's choice); whether
    anything changed. Stamped when only domains changed too (the row update moves the version
    and ETag), and not at all when nothing did."""
    links = _link_values(row.domains)
    rules.apply(row, values)
    row.domains = _profile_links(
        row.domains, rules.link, chosen=chosen, words=rules.words(row), taxonomy=taxonomy
    )
    return stamp_if_changed(session, row, children_changed=_link_values(row.domains) != links)


async def update_profile(
    session: AsyncSession,
    side: Side,
    id_: uuid.UUID,
    *,
    patch: CommitteePatch | OrganizationPatch,
    if_match: str | None,
    taxonomy: Taxonomy,
) -> Any:
    """Apply the fields sent to a committee or organization, against the version the client
    read; 409 when its designation or credit code is taken."""
    rules = _rules(side)
    row = await _get(session, side, id_)
    require_match(if_match, version=row.version)
    values = patch.model_dump(include=patch.model_fields_set, exclude={"domains"})
    chosen = None
    if "domains" in patch.model_fields_set and patch.domains is not None:
        chosen = taxonomy.resolve(patch.domains)
    _write(session, rules, row, values, chosen=chosen, taxonomy=taxonomy)
    await _flush_unique(session, rules.taken(patch))
    return row


async def delete_profile(
    session: AsyncSession, side: Side, id_: uuid.UUID, *, if_match: str | None
) -> None:
    """Remove a committee or organization nothing refers to; 409 when intents, memoranda or
    events do."""
    row = await _get(session, side, id_)
    require_match(if_match, version=row.version)
    await delete_unless_referred(session, row, refused=_in_use(_rules(side).in_use(row)))


# --- committees ---------------------------------------------------------------------------------


# Typed entry points over _get and _create, as the other domains call them; the organizations'
# below are their twins by design.
async def get_committee(session: AsyncSession, *, committee_id: uuid.UUID) -> Committee:
    """One committee with its domains; 404 when there is none."""
    committee: Committee = await _get(session, "committee", committee_id)
    return committee


async def create_committee(
    session: AsyncSession, *, data: CommitteeIn, taxonomy: Taxonomy
) -> Committee:
    """A new committee; 409 when its designation is taken."""
    committee: Committee = await _create(session, "committee", data=data, taxonomy=taxonomy)
    return committee


def _committee_search_text(c: Committee) -> str:
    return search_key(c.designation, c.name_zh, c.name_en)


def _organization_search_text(o: Organization) -> str:
    return search_key(o.name_zh, o.name_en, o.credit_code, o.region)


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
    links: list[Any],
    link_type: type[Any],
    weights: list[tuple[uuid.UUID, float]],
    *,
    inferred: bool = False,
) -> list[Any]:
    """The new domain links, reusing the existing rows of domains that stay."""
    by_domain = {link.domain_id: link for link in links}
    result = []
    for position, (id_, weight) in enumerate(weights):
        link = by_domain.get(id_) or link_type(domain_id=id_)
        link.weight, link.position, link.inferred = weight, position, inferred
        result.append(link)
    return result


def _profile_links(
    links: list[Any],
    link_type: type[Any],
    *,
    chosen: list[tuple[uuid.UUID, float]] | None,
    words: str,
    taxonomy: Taxonomy,
) -> list[Any]:
    """The domains a person chose, or, while they chose none, those read from the words.

    `chosen` None keeps the person's current choice. Inferred links carry their confidence as
    their weight; they are read again on every write, so they follow the text.
    """
    if chosen is None:
        chosen = [(link.domain_id, link.weight) for link in links if not link.inferred]
    if chosen:
        return _linked(links, link_type, chosen)
    read = [(taxonomy.by_code[f.code].id, f.confidence) for f in taxonomy.lexicon.infer(text=words)]
    return _linked(links, link_type, read, inferred=True)


def committee_words(committee: Committee) -> str:
    """The committee's own words: its names and scope."""
    return "\n".join(filter(None, (committee.name_zh, committee.name_en, committee.scope)))


def organization_words(organization: Organization) -> str:
    """The organization's own words: names, standardization needs and business scope."""
    return "\n".join(
        filter(
            None,
            (
                organization.name_zh,
                organization.name_en,
                organization.needs,
                organization.business_scope,
            ),
        )
    )


LinkValues = list[tuple[uuid.UUID, float, int, bool]]


def _link_values(links: list[Any]) -> LinkValues:
    return [(link.domain_id, link.weight, link.position, link.inferred) for link in links]


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


def _in_use(label: str) -> InUse:
    return InUse(
        f"{label} is referred to by event registrations, meetings, intents or memoranda; "
        "remove those first."
    )


def _text_filter(column: Any, q: str | None) -> list[ColumnElement[bool]]:
    return [column.like(like_pattern(q), escape="\\")] if q else []


def list_committees(
    *,
    taxonomy: Taxonomy,
    domain: str | None,
    level: str | None,
    q: str | None,
) -> Select[Committee]:
    """The filtered statement a page is read from."""
    stmt = _listing("committee", taxonomy=taxonomy, domain=domain, q=q)
    if level:
        stmt = stmt.where(Committee.level == level)
    return stmt


def _listing(side: Side, *, taxonomy: Taxonomy, domain: str | None, q: str | None) -> Select[Any]:
    """A side's profiles with their domains: those in a domain's subtree, matching `q`."""
    model = _rules(side).model
    stmt = select(model).options(selectinload(model.domains))
    if domain:
        subtree = _subtree(taxonomy, domain)
        stmt = stmt.where(model.domains.any(_rules(side).link.domain_id.in_(subtree)))
    return stmt.where(*_text_filter(model.search_text, q))


def _subtree(taxonomy: Taxonomy, code: str) -> set[uuid.UUID]:
    if code not in taxonomy.by_code:
        raise UnknownDomain(
            f"Unknown domain {code!r}; see GET /v1/domains.",
            errors=[{"field": "domain", "message": f"unknown domain {code!r}"}],
        )
    return taxonomy.subtree(code)


# --- organizations ------------------------------------------------------------------------------


async def get_organization(session: AsyncSession, *, organization_id: uuid.UUID) -> Organization:
    """One organization with its domains; 404 when there is none."""
    organization: Organization = await _get(session, "organization", organization_id)
    return organization


async def create_organization(
    session: AsyncSession, *, data: OrganizationIn, taxonomy: Taxonomy
) -> Organization:
    """A new organization; 409 when its credit code is taken."""
    organization: Organization = await _create(
        session, "organization", data=data, taxonomy=taxonomy
    )
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


def list_organizations(
    *,
    taxonomy: Taxonomy,
    domain: str | None,
    kind: str | None,
    region: str | None,
    q: str | None,
) -> Select[Organization]:
    """The filtered statement a page is read from."""
    stmt = _listing("organization", taxonomy=taxonomy, domain=domain, q=q)
    if kind:
        stmt = stmt.where(Organization.kind == kind)
    # The region is looked for in the folded text, as `q` is.
    return stmt.where(*_text_filter(Organization.search_text, region))


# --- spreadsheets -------------------------------------------------------------------------------

COMMITTEE_COLUMNS: tuple[str, ...] = (
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
ORGANIZATION_COLUMNS: tuple[str, ...] = (
    "kind",
    "name_zh",
    "name_en",
    "credit_code",
    "region",
    "domains",
    "needs",
    "business_scope",
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
    """The domains a person chose as a spreadsheet cell that imports back unchanged.

    Inferred domains are left out: imported back, they would pass for chosen ones and stop
    following the text.
    """
    return "; ".join(
        f"{taxonomy.code_of(link.domain_id)}:{link.weight:g}" for link in links if not link.inferred
    )


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
        "business_scope": row.get("business_scope", ""),
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
    refuse_rows(errors, total=len(rows), refusal=InvalidRows)
    return parsed


def refuse_rows(
    errors: list[RowError], *, total: int, refusal: type[Unprocessable] = InvalidRows
) -> None:
    """Raise `refusal` naming every bad row of an import at once, when there is any."""
    if not errors:
        return
    bad = sorted({e.row for e in errors})
    raise refusal(
        f"{len(bad)} of {total} rows are invalid (rows {', '.join(map(str, bad[:20]))}"
        f"{', …' if len(bad) > 20 else ''}); nothing was imported.",
        errors=[e.model_dump() for e in errors],
    )


class ImportCounts(NamedTuple):
    """What an import did: records created, records changed, and records already as given."""

    created: int
    updated: int
    unchanged: int


async def import_committees(
    session: AsyncSession, *, rows: list[tuple[int, dict[str, str]]], taxonomy: Taxonomy
) -> ImportCounts:
    """Create or update committees by designation, all or nothing."""
    items: list[CommitteeIn] = _validate_rows(
        rows, _committee_row, CommitteeIn, taxonomy, lambda c: c.designation, "designation"
    )
    return await upsert_committees(session, items=items, taxonomy=taxonomy)


async def upsert_committees(
    session: AsyncSession, *, items: list[CommitteeIn], taxonomy: Taxonomy
) -> ImportCounts:
    """Create or update committees keyed on designation."""
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
    return await _upsert(session, "committee", items, existing, lambda i: i.designation, taxonomy)


async def _upsert(
    session: AsyncSession,
    side: Side,
    items: list[Any],
    existing: dict[str, Any],
    key_of: Callable[[Any], str],
    taxonomy: Taxonomy,
) -> ImportCounts:
    """Write each item over the existing profile of its key, or as a new one."""
    rules = _rules(side)
    found = updated = 0
    for item in items:
        row = existing.get(key_of(item))
        is_new = row is None
        if row is None:
            row = rules.model(domains=[])
            session.add(row)
        else:
            found += 1
        chosen = taxonomy.resolve(item.domains)
        values = item.model_dump(exclude={"domains"})
        changed = _write(session, rules, row, values, chosen=chosen, taxonomy=taxonomy)
        updated += changed and not is_new
    await session.flush()
    return ImportCounts(len(items) - found, updated, found - updated)


def _organization_key(o: OrganizationIn | Organization) -> str:
    return o.credit_code or f"name:{fold(o.name_zh)}"


async def import_organizations(
    session: AsyncSession, *, rows: list[tuple[int, dict[str, str]]], taxonomy: Taxonomy
) -> ImportCounts:
    """Create or update organizations by credit code (by name where none), all or nothing."""
    items: list[OrganizationIn] = _validate_rows(
        rows, _organization_row, OrganizationIn, taxonomy, _organization_key, "credit_code"
    )
    return await upsert_organizations(session, items=items, taxonomy=taxonomy)


async def upsert_organizations(
    session: AsyncSession, *, items: list[OrganizationIn], taxonomy: Taxonomy
) -> ImportCounts:
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
    return await _upsert(session, "organization", items, existing, _organization_key, taxonomy)


async def export_rows(session: AsyncSession, side: Side, *, taxonomy: Taxonomy) -> list[list[Any]]:
    """Every committee or organization as a spreadsheet row, in the import's columns."""
    rules = _rules(side)
    rows = await session.scalars(
        select(rules.model).order_by(*rules.export_order).options(selectinload(rules.model.domains))
    )
    return [
        [
            format_domains_cell(row.domains, taxonomy)
            if column == "domains"
            else getattr(row, column)
            for column in rules.columns
        ]
        for row in rows
    ]


def export_columns(side: Side) -> tuple[str, ...]:
    """The spreadsheet columns of a side, the same for its import and its export."""
    return _rules(side).columns
