"""The directory over HTTP: domains, committees, organizations, imports and exports."""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.dependencies import AdminKey, PartnerKey
from service.auth.service import Principal
from service.db import DriverRecord, SessionDep
from service.directory import service
from service.directory.schemas import (
    CommitteeIn,
    CommitteeOut,
    CommitteePatch,
    Contact,
    DomainOut,
    DomainWeight,
    ImportResult,
    InferredDomain,
    Kind,
    Level,
    OrganizationIn,
    OrganizationOut,
    OrganizationPatch,
    TrackRecord,
)
from service.directory.taxonomy import Taxonomy, TaxonomyDep
from service.errors import (
    Forbidden,
    InUse,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    problem_responses,
)
from service.models import Committee, Organization
from service.pagination import DEFAULT_LIMIT, InvalidCursor, page_of
from service.schemas import Limit, Page, model_response
from service.spreadsheets import (
    CSV_MEDIA_TYPE,
    IMPORT_BODY,
    XLSX_MEDIA_TYPE,
    FileTooLarge,
    UnreadableFile,
    file_response,
    read_upload,
    uploaded_file,
)
from service.versions import IfMatch, etag

router = APIRouter(prefix="/v1", tags=["directory"])


class NotOwnProfile(Forbidden):
    code = "not_own_profile"


DomainFilter = Annotated[
    str | None, Query(description="A domain code; a parent domain matches its children too.")
]
TextQuery = Annotated[
    str | None,
    Query(max_length=200, description="Text in names, in simplified or traditional script."),
]
ExportFormat = Annotated[Literal["csv", "xlsx"], Query(alias="format", description="File format.")]

EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file.",
        "content": {
            CSV_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.get(
    "/domains",
    operation_id="listDomains",
    summary="The bilingual domain taxonomy",
    responses=problem_responses(),
)
async def list_domains(_: PartnerKey, taxonomy: TaxonomyDep) -> list[DomainOut]:
    return [
        DomainOut(
            id=d.id,
            code=d.code,
            parent=taxonomy.code_of(d.parent_id) if d.parent_id else None,
            name_en=d.name_en,
            name_zh_hans=d.name_zh_hans,
            name_zh_hant=d.name_zh_hant,
            synonyms=d.synonyms,
            description_zh=d.description_zh,
            description_en=d.description_en,
        )
        for d in taxonomy.by_code.values()
    ]


class Link(Protocol):
    """A profile's link to a domain: an ORM link, or a row of `service.read_profile`."""

    @property
    def domain_id(self) -> uuid.UUID: ...
    @property
    def weight(self) -> float: ...
    @property
    def inferred(self) -> bool: ...


# A profile to answer with: the ORM's object, or `service.read_profile`'s row (SQLAlchemy's on
# SQLite, asyncpg's on PostgreSQL); its links are passed beside it.
CommitteeRow = Committee | Row[Any] | DriverRecord
OrganizationRow = Organization | Row[Any] | DriverRecord


def _chosen(links: Sequence[Link], taxonomy: Taxonomy) -> Any:
    return [
        DomainWeight(domain=taxonomy.code_of(d.domain_id), weight=d.weight)
        for d in links
        if not d.inferred
    ]


def _inferred(links: Sequence[Link], taxonomy: Taxonomy) -> list[InferredDomain]:
    return [
        InferredDomain(domain=taxonomy.code_of(d.domain_id), confidence=d.weight)
        for d in links
        if d.inferred
    ]


async def _import(
    request: Request,
    session: AsyncSession,
    taxonomy: Taxonomy,
    import_rows: Callable[..., Awaitable[service.ImportCounts]],
) -> ImportResult:
    """Read the uploaded file and import its rows, all or nothing."""
    rows = await read_upload(await uploaded_file(request))
    counts = await import_rows(session, rows=rows, taxonomy=taxonomy)
    return ImportResult(**counts._asdict())


async def _export(
    session: AsyncSession, taxonomy: Taxonomy, side: service.Side, file_format: str
) -> Response:
    """Every profile of a side as a file, in the import's columns, named after the side."""
    rows = await service.export_rows(session, side, taxonomy=taxonomy)
    columns = service.export_columns(side)
    return file_response(columns, rows, name=f"{side}s", file_format=file_format)


# --- committees ---------------------------------------------------------------------------------


def committee_out(
    committee: CommitteeRow, taxonomy: Taxonomy, principal: Principal, *, links: Sequence[Link]
) -> CommitteeOut:
    """A committee as a given caller may see it: contact details only for admins and itself."""
    private = principal.is_admin or principal.is_party(committee_id=committee.id)
    contact = None
    if committee.contact_name or committee.contact_email or committee.contact_phone:
        contact = Contact(
            name=committee.contact_name,
            email=committee.contact_email if private else None,
            phone=committee.contact_phone if private else None,
        )
    return CommitteeOut(
        id=committee.id,
        designation=committee.designation,
        level=committee.level,
        name_zh=committee.name_zh,
        name_en=committee.name_en,
        scope=committee.scope,
        secretariat=committee.secretariat,
        contact=contact,
        domains=_chosen(links, taxonomy),
        inferred_domains=_inferred(links, taxonomy),
        version=committee.version,
        created_at=committee.created_at,
        updated_at=committee.updated_at,
    )


@router.get(
    "/committees",
    operation_id="listCommittees",
    summary="List committees",
    responses=problem_responses(service.UnknownDomain, InvalidCursor),
)
async def list_committees(
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    domain: DomainFilter = None,
    level: Level | None = None,
    q: TextQuery = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[CommitteeOut]:
    stmt = service.list_committees(taxonomy=taxonomy, domain=domain, level=level, q=q)

    def render(row: Committee) -> CommitteeOut:
        return committee_out(row, taxonomy, principal, links=row.domains)

    return await page_of(session, stmt, Committee, render, limit=limit, cursor=cursor)


@router.post(
    "/committees",
    status_code=status.HTTP_201_CREATED,
    operation_id="createCommittee",
    summary="Create a committee",
    responses=problem_responses(service.DesignationTaken, service.UnknownDomain),
)
async def create_committee(
    body: CommitteeIn,
    principal: AdminKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
) -> CommitteeOut:
    committee = await service.create_committee(session, data=body, taxonomy=taxonomy)
    response.headers["Location"] = f"/v1/committees/{committee.id}"
    response.headers["ETag"] = etag(committee.version)
    return committee_out(committee, taxonomy, principal, links=committee.domains)


@router.get(
    "/committees/{committee_id}",
    operation_id="getCommittee",
    summary="Read a committee",
    response_model=CommitteeOut,
    responses=problem_responses(NotFound),
)
async def get_committee(
    committee_id: uuid.UUID, principal: PartnerKey, request: Request, taxonomy: TaxonomyDep
) -> Response:
    async with request.app.state.statement_connections() as reader:
        committee, links = await service.read_profile(reader, "committee", committee_id)
    return model_response(
        committee_out(committee, taxonomy, principal, links=links),
        headers={"ETag": etag(committee.version)},
    )


@router.patch(
    "/committees/{committee_id}",
    operation_id="updateCommittee",
    summary="Change a committee's fields (merge semantics, If-Match required)",
    responses=problem_responses(
        NotOwnProfile,
        NotFound,
        service.DesignationTaken,
        PreconditionFailed,
        PreconditionRequired,
        service.UnknownDomain,
    ),
)
async def update_committee(
    committee_id: uuid.UUID,
    body: CommitteePatch,
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommitteeOut:
    _require_own(principal, committee_id=committee_id)
    committee: Committee = await service.update_profile(
        session, "committee", committee_id, patch=body, if_match=if_match, taxonomy=taxonomy
    )
    response.headers["ETag"] = etag(committee.version)
    return committee_out(committee, taxonomy, principal, links=committee.domains)


@router.delete(
    "/committees/{committee_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteCommittee",
    summary="Delete a committee nothing refers to (If-Match required)",
    responses=problem_responses(NotFound, InUse, PreconditionFailed, PreconditionRequired),
)
async def delete_committee(
    committee_id: uuid.UUID, _: AdminKey, session: SessionDep, if_match: IfMatch = None
) -> None:
    await service.delete_profile(session, "committee", committee_id, if_match=if_match)


def _require_own(
    principal: Principal,
    *,
    committee_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
) -> None:
    if principal.is_admin or principal.is_party(
        committee_id=committee_id, organization_id=organization_id
    ):
        return
    raise NotOwnProfile("A partner key may change only its own profile.")


@router.post(
    "/committees:import",
    operation_id="importCommittees",
    summary="Create or update committees from CSV or XLSX, all or nothing",
    openapi_extra=IMPORT_BODY,
    responses=problem_responses(service.InvalidRows, UnreadableFile, FileTooLarge),
)
async def import_committees(
    request: Request, _: AdminKey, session: SessionDep, taxonomy: TaxonomyDep
) -> ImportResult:
    return await _import(request, session, taxonomy, service.import_committees)


@router.get(
    "/committees:export",
    operation_id="exportCommittees",
    summary="Every committee as CSV or XLSX, in the import's columns",
    response_class=Response,
    responses={**EXPORT_RESPONSES, **problem_responses()},
)
async def export_committees(
    _: AdminKey, session: SessionDep, taxonomy: TaxonomyDep, file_format: ExportFormat = "csv"
) -> Response:
    return await _export(session, taxonomy, "committee", file_format)


# --- organizations ------------------------------------------------------------------------------


def organization_out(
    organization: OrganizationRow, taxonomy: Taxonomy, *, links: Sequence[Link]
) -> OrganizationOut:
    """An organization as the API shows it."""
    return OrganizationOut(
        id=organization.id,
        kind=organization.kind,
        name_zh=organization.name_zh,
        name_en=organization.name_en,
        credit_code=organization.credit_code,
        region=organization.region,
        domains=_chosen(links, taxonomy),
        inferred_domains=_inferred(links, taxonomy),
        needs=organization.needs,
        business_scope=organization.business_scope,
        track_record=TrackRecord(
            national=organization.led_national,
            industry=organization.led_industry,
            zhejiang_made=organization.led_zhejiang_made,
        ),
        version=organization.version,
        created_at=organization.created_at,
        updated_at=organization.updated_at,
    )


@router.get(
    "/organizations",
    operation_id="listOrganizations",
    summary="List enterprises, associations and institutes",
    responses=problem_responses(service.UnknownDomain, InvalidCursor),
)
async def list_organizations(
    _: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    domain: DomainFilter = None,
    kind: Kind | None = None,
    region: Annotated[str | None, Query(max_length=100)] = None,
    q: TextQuery = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[OrganizationOut]:
    stmt = service.list_organizations(
        taxonomy=taxonomy, domain=domain, kind=kind, region=region, q=q
    )

    def render(row: Organization) -> OrganizationOut:
        return organization_out(row, taxonomy, links=row.domains)

    return await page_of(session, stmt, Organization, render, limit=limit, cursor=cursor)


@router.post(
    "/organizations",
    status_code=status.HTTP_201_CREATED,
    operation_id="createOrganization",
    summary="Create an organization",
    responses=problem_responses(service.CreditCodeTaken, service.UnknownDomain),
)
async def create_organization(
    body: OrganizationIn,
    _: AdminKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
) -> OrganizationOut:
    organization = await service.create_organization(session, data=body, taxonomy=taxonomy)
    response.headers["Location"] = f"/v1/organizations/{organization.id}"
    response.headers["ETag"] = etag(organization.version)
    return organization_out(organization, taxonomy, links=organization.domains)


@router.get(
    "/organizations/{organization_id}",
    operation_id="getOrganization",
    summary="Read an organization",
    response_model=OrganizationOut,
    responses=problem_responses(NotFound),
)
async def get_organization(
    organization_id: uuid.UUID, _: PartnerKey, request: Request, taxonomy: TaxonomyDep
) -> Response:
    # A partner's hottest reads: one statement on a connection of its own, no session.
    async with request.app.state.statement_connections() as reader:
        organization, links = await service.read_profile(reader, "organization", organization_id)
    return model_response(
        organization_out(organization, taxonomy, links=links),
        headers={"ETag": etag(organization.version)},
    )


@router.patch(
    "/organizations/{organization_id}",
    operation_id="updateOrganization",
    summary="Change an organization's fields (merge semantics, If-Match required)",
    responses=problem_responses(
        NotOwnProfile,
        NotFound,
        service.CreditCodeTaken,
        PreconditionFailed,
        PreconditionRequired,
        service.UnknownDomain,
    ),
)
async def update_organization(
    organization_id: uuid.UUID,
    body: OrganizationPatch,
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
    if_match: IfMatch = None,
) -> OrganizationOut:
    _require_own(principal, organization_id=organization_id)
    organization: Organization = await service.update_profile(
        session, "organization", organization_id, patch=body, if_match=if_match, taxonomy=taxonomy
    )
    response.headers["ETag"] = etag(organization.version)
    return organization_out(organization, taxonomy, links=organization.domains)


@router.delete(
    "/organizations/{organization_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteOrganization",
    summary="Delete an organization nothing refers to (If-Match required)",
    responses=problem_responses(NotFound, InUse, PreconditionFailed, PreconditionRequired),
)
async def delete_organization(
    organization_id: uuid.UUID, _: AdminKey, session: SessionDep, if_match: IfMatch = None
) -> None:
    await service.delete_profile(session, "organization", organization_id, if_match=if_match)


@router.post(
    "/organizations:import",
    operation_id="importOrganizations",
    summary="Create or update organizations from CSV or XLSX, all or nothing",
    openapi_extra=IMPORT_BODY,
    responses=problem_responses(service.InvalidRows, UnreadableFile, FileTooLarge),
)
async def import_organizations(
    request: Request, _: AdminKey, session: SessionDep, taxonomy: TaxonomyDep
) -> ImportResult:
    return await _import(request, session, taxonomy, service.import_organizations)


@router.get(
    "/organizations:export",
    operation_id="exportOrganizations",
    summary="Every organization as CSV or XLSX, in the import's columns",
    response_class=Response,
    responses={**EXPORT_RESPONSES, **problem_responses()},
)
async def export_organizations(
    _: AdminKey, session: SessionDep, taxonomy: TaxonomyDep, file_format: ExportFormat = "csv"
) -> Response:
    return await _export(session, taxonomy, "organization", file_format)
