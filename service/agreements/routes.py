"""Cooperation intents and memoranda over HTTP, with their state changes and history."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from service.agreements import service
from service.agreements.schemas import (
    Actor,
    ConsentOut,
    Document,
    IntentIn,
    IntentOut,
    IntentPatch,
    IntentState,
    IntentTransitionIn,
    MemorandumIn,
    MemorandumOut,
    MemorandumPatch,
    MemorandumState,
    MemorandumTransitionIn,
    SignatoryOut,
    SignatureIn,
    TransitionOut,
)
from service.auth.dependencies import PartnerKey
from service.auth.service import Principal
from service.db import SessionDep
from service.directory.schemas import Contact
from service.directory.service import UnknownDomain
from service.directory.taxonomy import Taxonomy, TaxonomyDep
from service.errors import (
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    UnknownParty,
    problem_responses,
)
from service.models import (
    Intent,
    IntentTransition,
    Memorandum,
    MemorandumConsent,
    MemorandumTransition,
)
from service.pagination import DEFAULT_LIMIT, InvalidCursor, page_of
from service.schemas import Limit, Page
from service.versions import IfMatch, etag

router = APIRouter(prefix="/v1", tags=["agreements"])

DomainFilter = Annotated[
    str | None, Query(description="A domain code; a parent domain matches its children too.")
]
EventFilter = Annotated[uuid.UUID | None, Query(description="Only those from this event.")]
CommitteeFilter = Annotated[uuid.UUID | None, Query(description="Only those with this committee.")]
OrganizationFilter = Annotated[
    uuid.UUID | None, Query(description="Only those with this organization.")
]

WRITE_PROBLEMS = (NotFound, PreconditionFailed, PreconditionRequired)


def _contact(
    name: str | None, email: str | None, phone: str | None, *, private: bool
) -> Contact | None:
    if not (name or email or phone):
        return None
    return Contact(name=name, email=email if private else None, phone=phone if private else None)


def intent_out(intent: Intent, codes: dict[uuid.UUID, str], principal: Principal) -> IntentOut:
    """An intent as a given caller may see it: contact details only for admins and the parties."""
    private = service.sees_contacts(principal, intent)
    return IntentOut(
        id=intent.id,
        committee_id=intent.committee_id,
        organization_id=intent.organization_id,
        event_id=intent.event_id,
        meeting_id=intent.meeting_id,
        domains=[codes[d.domain_id] for d in intent.domains],
        summary=intent.summary,
        target_date=intent.target_date,
        committee_contact=_contact(
            intent.committee_contact_name,
            intent.committee_contact_email,
            intent.committee_contact_phone,
            private=private,
        ),
        organization_contact=_contact(
            intent.organization_contact_name,
            intent.organization_contact_email,
            intent.organization_contact_phone,
            private=private,
        ),
        proposed_by=intent.proposed_by,
        state=intent.state,
        next_states=list(service.INTENT_FLOW[intent.state]),
        version=intent.version,
        created_at=intent.created_at,
        updated_at=intent.updated_at,
    )


def memorandum_out(memorandum: Memorandum, codes: dict[uuid.UUID, str]) -> MemorandumOut:
    """A memorandum as the API shows it."""
    committees, organizations = service.memorandum_parties(memorandum)
    return MemorandumOut(
        id=memorandum.id,
        title=memorandum.title,
        title_en=memorandum.title_en,
        committee_ids=committees,
        organization_ids=organizations,
        domains=[codes[d.domain_id] for d in memorandum.domains],
        signed_on=memorandum.signed_on,
        effective_from=memorandum.effective_from,
        effective_to=memorandum.effective_to,
        document=Document(uri=memorandum.document_uri, sha256=memorandum.document_sha256),
        event_id=memorandum.event_id,
        notes=memorandum.notes,
        signatories=[
            SignatoryOut(
                committee_id=s.committee_id,
                organization_id=s.organization_id,
                signature=_consent_out(s.consent("sign")),
                termination_request=_consent_out(s.consent("terminate")),
            )
            for s in memorandum.signatories
        ],
        state=memorandum.state,
        next_states=list(service.MEMORANDUM_FLOW[memorandum.state]),
        version=memorandum.version,
        created_at=memorandum.created_at,
        updated_at=memorandum.updated_at,
    )


def _consent_out(consent: MemorandumConsent | None) -> ConsentOut | None:
    if consent is None:
        return None
    return ConsentOut(
        actor=Actor(key_id=consent.actor_key_id, name=consent.actor_name, role=consent.actor_role),
        note=consent.note,
        at=consent.created_at,
    )


def transition_out(row: IntentTransition | MemorandumTransition) -> TransitionOut:
    """One kept state change."""
    return TransitionOut(
        id=row.id,
        from_state=row.from_state,
        to_state=row.to_state,
        note=row.note,
        actor=Actor(key_id=row.actor_key_id, name=row.actor_name, role=row.actor_role),
        at=row.created_at,
    )


def _intent_answer(
    taxonomy: Taxonomy, response: Response, intent: Intent, principal: Principal
) -> IntentOut:
    """One intent as the answer to a request: its ETag set, rendered for this caller."""
    response.headers["ETag"] = etag(intent.version)
    return intent_out(intent, taxonomy.codes, principal)


def _memorandum_answer(
    taxonomy: Taxonomy, response: Response, memorandum: Memorandum
) -> MemorandumOut:
    """One memorandum as the answer to a request: its ETag set."""
    response.headers["ETag"] = etag(memorandum.version)
    return memorandum_out(memorandum, taxonomy.codes)


# --- intents ------------------------------------------------------------------------------------


@router.get(
    "/intents",
    operation_id="listIntents",
    summary="List cooperation intents (a partner sees those of its party)",
    responses=problem_responses(UnknownDomain, InvalidCursor),
)
async def list_intents(
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    event_id: EventFilter = None,
    committee_id: CommitteeFilter = None,
    organization_id: OrganizationFilter = None,
    domain: DomainFilter = None,
    state: IntentState | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[IntentOut]:
    filters = service.ListFilters(event_id, committee_id, organization_id, domain)
    stmt = service.list_intents(
        principal=principal, filters=filters, state=state, taxonomy=taxonomy
    )
    codes = taxonomy.codes
    return await page_of(
        session, stmt, Intent, lambda i: intent_out(i, codes, principal), limit=limit, cursor=cursor
    )


@router.post(
    "/intents",
    status_code=status.HTTP_201_CREATED,
    operation_id="createIntent",
    summary="Record a cooperation intent between a committee and an organization",
    responses=problem_responses(service.NotAParty, UnknownParty, UnknownDomain),
)
async def create_intent(
    body: IntentIn,
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
) -> IntentOut:
    intent = await service.create_intent(session, principal=principal, data=body, taxonomy=taxonomy)
    response.headers["Location"] = f"/v1/intents/{intent.id}"
    return _intent_answer(taxonomy, response, intent, principal)


@router.get(
    "/intents/{intent_id}",
    operation_id="getIntent",
    summary="Read a cooperation intent",
    responses=problem_responses(NotFound),
)
async def get_intent(
    intent_id: uuid.UUID,
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
) -> IntentOut:
    intent = await service.get_intent(session, principal=principal, intent_id=intent_id)
    return _intent_answer(taxonomy, response, intent, principal)


@router.patch(
    "/intents/{intent_id}",
    operation_id="updateIntent",
    summary="Change an intent's summary, domains, target date or contacts (If-Match required)",
    responses=problem_responses(*WRITE_PROBLEMS, UnknownDomain),
)
async def update_intent(
    intent_id: uuid.UUID,
    body: IntentPatch,
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
    if_match: IfMatch = None,
) -> IntentOut:
    intent = await service.update_intent(
        session,
        principal=principal,
        intent_id=intent_id,
        patch=body,
        if_match=if_match,
        taxonomy=taxonomy,
    )
    return _intent_answer(taxonomy, response, intent, principal)


@router.post(
    "/intents/{intent_id}:transition",
    operation_id="transitionIntent",
    summary="Move an intent to its next state (If-Match required); 409 lists the allowed ones",
    responses=problem_responses(
        *WRITE_PROBLEMS, service.InvalidTransition, service.ProposerCannotConfirm
    ),
)
async def transition_intent(
    intent_id: uuid.UUID,
    body: IntentTransitionIn,
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
    if_match: IfMatch = None,
) -> IntentOut:
    intent = await service.transition_intent(
        session,
        principal=principal,
        intent_id=intent_id,
        to=body.to,
        note=body.note,
        if_match=if_match,
        taxonomy=taxonomy,
    )
    return _intent_answer(taxonomy, response, intent, principal)


@router.get(
    "/intents/{intent_id}/history",
    operation_id="listIntentHistory",
    summary="Every state an intent was put in, by whom and when, oldest first",
    responses=problem_responses(NotFound, InvalidCursor),
)
async def list_intent_history(
    intent_id: uuid.UUID,
    principal: PartnerKey,
    session: SessionDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[TransitionOut]:
    stmt = await service.intent_history(session, principal=principal, intent_id=intent_id)
    return await page_of(
        session, stmt, IntentTransition, transition_out, limit=limit, cursor=cursor
    )


# --- memoranda ----------------------------------------------------------------------------------


@router.get(
    "/memoranda",
    operation_id="listMemoranda",
    summary="List memoranda of understanding (a partner sees those its party signed)",
    responses=problem_responses(UnknownDomain, InvalidCursor),
)
async def list_memoranda(
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    event_id: EventFilter = None,
    committee_id: CommitteeFilter = None,
    organization_id: OrganizationFilter = None,
    domain: DomainFilter = None,
    state: MemorandumState | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[MemorandumOut]:
    filters = service.ListFilters(event_id, committee_id, organization_id, domain)
    stmt = service.list_memoranda(
        principal=principal, filters=filters, state=state, taxonomy=taxonomy
    )
    codes = taxonomy.codes
    return await page_of(
        session, stmt, Memorandum, lambda m: memorandum_out(m, codes), limit=limit, cursor=cursor
    )


@router.post(
    "/memoranda",
    status_code=status.HTTP_201_CREATED,
    operation_id="createMemorandum",
    summary="Record a signed memorandum of understanding",
    responses=problem_responses(service.NotAParty, UnknownParty, UnknownDomain),
)
async def create_memorandum(
    body: MemorandumIn,
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
) -> MemorandumOut:
    memorandum = await service.create_memorandum(
        session, principal=principal, data=body, taxonomy=taxonomy
    )
    response.headers["Location"] = f"/v1/memoranda/{memorandum.id}"
    return _memorandum_answer(taxonomy, response, memorandum)


@router.get(
    "/memoranda/{memorandum_id}",
    operation_id="getMemorandum",
    summary="Read a memorandum of understanding",
    responses=problem_responses(NotFound),
)
async def get_memorandum(
    memorandum_id: uuid.UUID,
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
) -> MemorandumOut:
    memorandum = await service.get_memorandum(
        session, principal=principal, memorandum_id=memorandum_id
    )
    return _memorandum_answer(taxonomy, response, memorandum)


@router.patch(
    "/memoranda/{memorandum_id}",
    operation_id="updateMemorandum",
    summary="Change a memorandum's notes; its signed content answers 409 (If-Match required)",
    responses=problem_responses(*WRITE_PROBLEMS, service.MemorandumSigned),
)
async def update_memorandum(
    memorandum_id: uuid.UUID,
    body: MemorandumPatch,
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
    if_match: IfMatch = None,
) -> MemorandumOut:
    memorandum = await service.update_memorandum(
        session, principal=principal, memorandum_id=memorandum_id, patch=body, if_match=if_match
    )
    return _memorandum_answer(taxonomy, response, memorandum)


@router.post(
    "/memoranda/{memorandum_id}:transition",
    operation_id="transitionMemorandum",
    summary="Move a memorandum to its next state (If-Match required); 409 lists the allowed ones",
    description="A partner's `terminated` is a request: it answers 202 with the memorandum "
    "still active until every signatory has asked (an admin's takes effect at once).",
    responses={
        202: {"model": MemorandumOut, "description": "Termination requested, not yet agreed"},
        **problem_responses(
            *WRITE_PROBLEMS,
            service.InvalidTransition,
            service.SignaturesMissing,
            service.TerminationAlreadyRequested,
        ),
    },
)
async def transition_memorandum(
    memorandum_id: uuid.UUID,
    body: MemorandumTransitionIn,
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
    if_match: IfMatch = None,
) -> MemorandumOut:
    memorandum, moved = await service.transition_memorandum(
        session,
        principal=principal,
        memorandum_id=memorandum_id,
        to=body.to,
        note=body.note,
        if_match=if_match,
    )
    if not moved:
        response.status_code = status.HTTP_202_ACCEPTED
    return _memorandum_answer(taxonomy, response, memorandum)


@router.post(
    "/memoranda/{memorandum_id}:sign",
    operation_id="signMemorandum",
    summary="Sign a proposed memorandum for one signatory; the last signature makes it signed",
    description="A partner signs for its own party; an admin for the party it names in "
    "`party_id`. Each signature is kept with the key that gave it.",
    responses=problem_responses(
        NotFound,
        service.NotAParty,
        service.AlreadySigned,
        service.SignatoryRequired,
        UnknownParty,
    ),
)
async def sign_memorandum(
    memorandum_id: uuid.UUID,
    body: SignatureIn,
    principal: PartnerKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    response: Response,
) -> MemorandumOut:
    memorandum = await service.sign_memorandum(
        session,
        principal=principal,
        memorandum_id=memorandum_id,
        party_id=body.party_id,
        note=body.note,
        taxonomy=taxonomy,
    )
    return _memorandum_answer(taxonomy, response, memorandum)


@router.get(
    "/memoranda/{memorandum_id}/history",
    operation_id="listMemorandumHistory",
    summary="Every state a memorandum was put in, by whom and when, oldest first",
    responses=problem_responses(NotFound, InvalidCursor),
)
async def list_memorandum_history(
    memorandum_id: uuid.UUID,
    principal: PartnerKey,
    session: SessionDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[TransitionOut]:
    stmt = await service.memorandum_history(
        session, principal=principal, memorandum_id=memorandum_id
    )
    return await page_of(
        session, stmt, MemorandumTransition, transition_out, limit=limit, cursor=cursor
    )
