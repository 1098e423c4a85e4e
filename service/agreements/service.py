"""The rules of intents and memoranda: who sees them, how their states move, what is kept.

Shared by both (truly the same): the lookup within the caller's scope, the domain links, the
event, state and domain filters, the state check with its history row, the history statement and
who the actor was. Kept apart (they only look alike): who may do what. An
intent has two fixed sides, one of which proposed it and may not confirm it alone; a memorandum
has any number of signatories, each of whom signs, and whose termination needs them all (or an
admin).
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, exists, false, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from service.agreements.schemas import (
    CONTENT_FIELDS,
    IntentIn,
    IntentPatch,
    MemorandumIn,
    MemorandumPatch,
)
from service.auth.service import Principal
from service.directory.schemas import Contact
from service.directory.service import UnknownDomain
from service.directory.taxonomy import Taxonomy
from service.errors import Conflict, Forbidden, NotFound, UnknownParty, Unprocessable
from service.models import (
    ApiKey,
    Committee,
    Event,
    Intent,
    IntentDomain,
    IntentTransition,
    Meeting,
    Memorandum,
    MemorandumConsent,
    MemorandumDomain,
    MemorandumSignatory,
    MemorandumTransition,
    Organization,
)
from service.models.columns import new_id, utcnow
from service.versions import require_match, stamp_if_changed
from service.webhooks.service import emit

INTENT_FLOW: dict[str, tuple[str, ...]] = {
    "proposed": ("confirmed", "withdrawn"),
    "confirmed": ("in_progress", "withdrawn"),
    "in_progress": ("fulfilled", "withdrawn"),
    "fulfilled": (),
    "withdrawn": (),
}
# A proposed memorandum becomes signed by its last signature (`:sign`), never by `:transition`.
MEMORANDUM_FLOW: dict[str, tuple[str, ...]] = {
    "proposed": (),
    "signed": ("active",),
    "active": ("expired", "terminated"),
    "expired": (),
    "terminated": (),
}


class InvalidTransition(Conflict):
    code, title = "invalid_transition", "State cannot move there"


class MemorandumSigned(Conflict):
    code, title = "memorandum_signed", "A signed memorandum's content cannot change"


class NotAParty(Forbidden):
    code, title = "not_a_party", "Only a party may record this"


class ProposerCannotConfirm(Forbidden):
    code, title = "confirmation_by_other_side", "The other side (or an admin) must confirm"


class SignaturesMissing(Conflict):
    code, title = "signatures_missing", "Not every signatory has signed"


class AlreadySigned(Conflict):
    code, title = "already_signed", "This signatory has already signed"


class TerminationAlreadyRequested(Conflict):
    code, title = "termination_already_requested", "This signatory already asked to terminate"


class SignatoryRequired(Unprocessable):
    code, title = "signatory_required", "Name the signatory to sign for"


class UnknownEvent(Unprocessable):
    code, title = "unknown_event", "Event or meeting does not exist"


async def _check_event_refs(
    session: AsyncSession, *, event_id: uuid.UUID | None, meeting_id: uuid.UUID | None = None
) -> None:
    """422 for an event or meeting that does not exist, or a meeting of another event."""
    if event_id is not None and await session.get(Event, event_id) is None:
        raise UnknownEvent(f"No event has id {event_id}.")
    if meeting_id is not None:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None or meeting.event_id != event_id:
            raise UnknownEvent(f"Event {event_id} has no meeting {meeting_id}.")


# --- shared by intents and memoranda ------------------------------------------------------------

Link = TypeVar("Link", IntentDomain, MemorandumDomain)
Agreement = Intent | Memorandum
Record = TypeVar("Record", Intent, Memorandum)
History = type[IntentTransition] | type[MemorandumTransition]
# The one difference between the two history tables: the column that names their record.
_OWNER: dict[History, Any] = {
    IntentTransition: IntentTransition.intent_id,
    MemorandumTransition: MemorandumTransition.memorandum_id,
}
# Likewise for the two domain link tables.
_LINK_OWNER: dict[type[IntentDomain] | type[MemorandumDomain], Any] = {
    IntentDomain: IntentDomain.intent_id,
    MemorandumDomain: MemorandumDomain.memorandum_id,
}


def _domain_ids(taxonomy: Taxonomy, codes: Sequence[str]) -> list[uuid.UUID]:
    unknown = [(i, c) for i, c in enumerate(codes) if c not in taxonomy.by_code]
    if unknown:
        raise UnknownDomain(
            "Unknown domain " + ", ".join(repr(c) for _, c in unknown) + "; see GET /v1/domains.",
            errors=[
                {"field": f"domains[{i}]", "message": f"unknown domain {c!r}"} for i, c in unknown
            ],
        )
    return [taxonomy.by_code[c].id for c in codes]


def _link_domains(
    current: list[Link], domain_ids: Sequence[uuid.UUID], make: Callable[..., Link]
) -> list[Link] | None:
    """The links for these domains in this order, reusing the current ones; None when they are
    the current ones already, so that a PATCH sending the same domains changes nothing."""
    if [link.domain_id for link in current] == list(domain_ids):
        return None
    existing = {link.domain_id: link for link in current}
    links = [existing.get(d) or make(domain_id=d) for d in domain_ids]
    for position, link in enumerate(links):
        link.position = position
    return links


def _subtree(taxonomy: Taxonomy, code: str) -> set[uuid.UUID]:
    if code not in taxonomy.by_code:
        raise UnknownDomain(
            f"Unknown domain {code!r}; see GET /v1/domains.",
            errors=[{"field": "domain", "message": f"unknown domain {code!r}"}],
        )
    return taxonomy.subtree(code)


async def _check_parties(
    session: AsyncSession,
    *,
    committee_ids: Sequence[uuid.UUID],
    organization_ids: Sequence[uuid.UUID],
) -> None:
    found_c = set(
        (await session.scalars(select(Committee.id).where(Committee.id.in_(committee_ids)))).all()
    )
    found_o = set(
        (
            await session.scalars(
                select(Organization.id).where(Organization.id.in_(organization_ids))
            )
        ).all()
    )
    missing = [f"committee {c}" for c in committee_ids if c not in found_c]
    missing += [f"organization {o}" for o in organization_ids if o not in found_o]
    if missing:
        raise UnknownParty("No such " + ", ".join(missing) + ".")


def _require_party(
    principal: Principal,
    *,
    committee_ids: Sequence[uuid.UUID],
    organization_ids: Sequence[uuid.UUID],
) -> None:
    if principal.is_admin:
        return
    if principal.committee_id in committee_ids or principal.organization_id in organization_ids:
        return
    raise NotAParty("A partner key may record only agreements its own party is part of.")


async def _actor(session: AsyncSession, principal: Principal | None) -> dict[str, Any]:
    if principal is None:
        return {"actor_key_id": None, "actor_name": "demo data", "actor_role": "system"}
    key = await session.get(ApiKey, principal.key_id)
    return {
        "actor_key_id": principal.key_id,
        "actor_name": key.name if key else "",
        "actor_role": principal.role,
    }


def _check_edge(record: Agreement, to: str, flow: dict[str, tuple[str, ...]]) -> None:
    """409 for a move the state machine does not have, naming where it may go."""
    allowed = flow[record.state]
    if to not in allowed:
        kind = type(record).__name__.lower()
        where = ", ".join(allowed) if allowed else "nowhere (it is final)"
        raise InvalidTransition(
            f"{_article(kind)} {kind} in state {record.state} cannot move to {to}; "
            f"it may move to {where}.",
            state=record.state,
            allowed=list(allowed),
        )


def _article(word: str) -> str:
    return "An" if word[:1] in "aeiou" else "A"


async def _record_step(
    session: AsyncSession,
    record: Agreement,
    history: History,
    *,
    to: str,
    note: str,
    actor: dict[str, Any],
) -> str:
    """Put the record in its new state and keep the step; the state it left."""
    from_state, record.state = record.state, to
    record.updated_at = utcnow()
    owner = {_OWNER[history].key: record.id}
    session.add(history(**owner, from_state=from_state, to_state=to, note=note, **actor))
    await session.flush()
    return from_state


def _history_of(history: History, record_id: uuid.UUID) -> Select[Any]:
    return select(history).where(_OWNER[history] == record_id)


async def _visible(
    session: AsyncSession,
    record: type[Record],
    record_id: uuid.UUID,
    scope: Sequence[ColumnElement[bool]],
    loads: Sequence[Any],
    *,
    lock: bool,
) -> Record:
    """The record with this id within the caller's scope, else 404 (as for one that does not
    exist)."""
    stmt = select(record).where(record.id == record_id, *scope).options(*loads)
    # Locked for a change, so a concurrent writer waits and then fails If-Match cleanly.
    found = await session.scalar(stmt.with_for_update(of=record) if lock else stmt)
    if found is None:
        raise NotFound(f"No {record.__name__.lower()} has id {record_id}.")
    return found


@dataclass(frozen=True)
class ListFilters:
    """What both listings filter on besides the state: an event, a party, a domain's subtree."""

    event_id: uuid.UUID | None
    committee_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    domain: str | None


def _filtered(
    stmt: Select[Any],
    record: type[Intent] | type[Memorandum],
    links: type[IntentDomain] | type[MemorandumDomain],
    *,
    filters: ListFilters,
    state: str | None,
    taxonomy: Taxonomy,
) -> Select[Any]:
    """The event, state and domain filters, which are the same for intents and memoranda (the
    parties are not: an intent names its two, a memorandum lists its signatories)."""
    if filters.event_id is not None:
        stmt = stmt.where(record.event_id == filters.event_id)
    if state is not None:
        stmt = stmt.where(record.state == state)
    if filters.domain:
        subtree = _subtree(taxonomy, filters.domain)
        stmt = stmt.where(
            exists().where(_LINK_OWNER[links] == record.id, links.domain_id.in_(subtree))
        )
    return stmt


# --- intents ------------------------------------------------------------------------------------


def _intent_scope(principal: Principal) -> list[ColumnElement[bool]]:
    """Admins see every intent; a partner those its party is part of."""
    if principal.is_admin:
        return []
    if principal.committee_id is not None:
        return [Intent.committee_id == principal.committee_id]
    if principal.organization_id is not None:
        return [Intent.organization_id == principal.organization_id]
    return [false()]


def sees_contacts(principal: Principal, intent: Intent) -> bool:
    """Phone and email of the contacts: for admins and the two parties only."""
    return principal.is_admin or principal.is_party(
        committee_id=intent.committee_id, organization_id=intent.organization_id
    )


def intent_payload(intent: Intent, codes: dict[uuid.UUID, str]) -> dict[str, Any]:
    """An intent as webhooks carry it: no personal data."""
    return {
        "id": intent.id,
        "committee_id": intent.committee_id,
        "organization_id": intent.organization_id,
        "event_id": intent.event_id,
        "meeting_id": intent.meeting_id,
        "domains": [codes[d.domain_id] for d in intent.domains],
        "summary": intent.summary,
        "target_date": intent.target_date,
        "state": intent.state,
        "version": intent.version,
    }


async def get_intent(
    session: AsyncSession, *, principal: Principal, intent_id: uuid.UUID, lock: bool = False
) -> Intent:
    """One intent the caller may see; another party's answers 404, as one that does not exist."""
    loads = [selectinload(Intent.domains)]
    return await _visible(session, Intent, intent_id, _intent_scope(principal), loads, lock=lock)


def _contact_fields(side: str, contact: Contact | None) -> dict[str, str | None]:
    return {
        f"{side}_contact_{part}": getattr(contact, part) if contact else None
        for part in ("name", "email", "phone")
    }


def _side_of(principal: Principal, intent: Intent) -> str | None:
    """The side of the intent a partner key speaks for; None for an admin (or the demo data)."""
    if principal.is_admin:
        return None
    return "committee" if principal.committee_id == intent.committee_id else "organization"


async def create_intent(
    session: AsyncSession,
    *,
    principal: Principal | None,
    data: IntentIn,
    taxonomy: Taxonomy,
    state: str = "proposed",
    intent_id: uuid.UUID | None = None,
) -> Intent:
    """A new intent with its first history row; tells subscribers (intent.created)."""
    if principal is not None:
        _require_party(
            principal, committee_ids=[data.committee_id], organization_ids=[data.organization_id]
        )
    await _check_parties(
        session, committee_ids=[data.committee_id], organization_ids=[data.organization_id]
    )
    await _check_event_refs(session, event_id=data.event_id, meeting_id=data.meeting_id)
    domain_ids = _domain_ids(taxonomy, data.domains)
    intent = Intent(
        id=intent_id or new_id(),
        committee_id=data.committee_id,
        organization_id=data.organization_id,
        event_id=data.event_id,
        meeting_id=data.meeting_id,
        summary=data.summary,
        target_date=data.target_date,
        state=state,
        domains=[IntentDomain(domain_id=d, position=i) for i, d in enumerate(domain_ids)],
        **_contact_fields("committee", data.committee_contact),
        **_contact_fields("organization", data.organization_contact),
    )
    if principal is not None:
        intent.proposed_by = _side_of(principal, intent)
    session.add(intent)
    session.add(
        IntentTransition(
            intent_id=intent.id, from_state=None, to_state=state, **await _actor(session, principal)
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:  # a party deleted since it was checked
        raise UnknownParty("The committee or organization no longer exists.") from exc
    if principal is not None:
        await emit(
            session,
            type="intent.created",
            data=intent_payload(intent, taxonomy.codes),
            parties=[intent.committee_id, intent.organization_id],
        )
    return intent


async def update_intent(
    session: AsyncSession,
    *,
    principal: Principal,
    intent_id: uuid.UUID,
    patch: IntentPatch,
    if_match: str | None,
    taxonomy: Taxonomy,
) -> Intent:
    """Apply the fields sent, against the version the client read; sending what is there
    already changes nothing, the version included."""
    intent = await get_intent(session, principal=principal, intent_id=intent_id, lock=True)
    require_match(if_match, version=intent.version)
    sent = patch.model_fields_set
    # Resolved before anything changes: the query would flush a half-made change, a version early.
    domain_ids = None
    if "domains" in sent and patch.domains is not None:
        domain_ids = _domain_ids(taxonomy, patch.domains)
    if "summary" in sent and patch.summary is not None:
        intent.summary = patch.summary
    if "target_date" in sent:
        intent.target_date = patch.target_date
    for side in ("committee", "organization"):
        if f"{side}_contact" in sent:
            for field, value in _contact_fields(side, getattr(patch, f"{side}_contact")).items():
                setattr(intent, field, value)
    links = None if domain_ids is None else _link_domains(intent.domains, domain_ids, IntentDomain)
    if links is not None:
        intent.domains = links
    stamp_if_changed(session, intent, children_changed=links is not None)
    await session.flush()
    return intent


def _check_intent_actor(principal: Principal, intent: Intent, to: str) -> None:
    """403 for the side that proposed an intent confirming it alone; the other side or an admin
    confirms. Any other step either side may take."""
    side = _side_of(principal, intent)
    if to != "confirmed" or side is None or side != intent.proposed_by:
        return
    other = "organization" if side == "committee" else "committee"
    other_id = intent.organization_id if other == "organization" else intent.committee_id
    raise ProposerCannotConfirm(
        f"The {side} proposed this intent, so it cannot confirm it alone: the confirmation of "
        f"the {other} ({other_id}) or of an admin is missing.",
        proposed_by=side,
        awaiting={"side": other, "id": str(other_id)},
    )


async def transition_intent(
    session: AsyncSession,
    *,
    principal: Principal,
    intent_id: uuid.UUID,
    to: str,
    note: str,
    if_match: str | None,
    taxonomy: Taxonomy,
) -> Intent:
    """Move an intent along its states, keep the step, and tell subscribers."""
    intent = await get_intent(session, principal=principal, intent_id=intent_id, lock=True)
    require_match(if_match, version=intent.version)
    _check_edge(intent, to, INTENT_FLOW)
    _check_intent_actor(principal, intent, to)
    from_state = await _record_step(
        session, intent, IntentTransition, to=to, note=note, actor=await _actor(session, principal)
    )
    await emit(
        session,
        type="intent.state_changed",
        data={
            "intent": intent_payload(intent, taxonomy.codes),
            "from_state": from_state,
            "to_state": to,
            "note": note,
            "changed_at": intent.updated_at,
        },
        parties=[intent.committee_id, intent.organization_id],
    )
    return intent


async def intent_history(
    session: AsyncSession, *, principal: Principal, intent_id: uuid.UUID
) -> Select[Any]:
    """The statement a page of one visible intent's history is read from."""
    await get_intent(session, principal=principal, intent_id=intent_id)
    return _history_of(IntentTransition, intent_id)


def list_intents(
    *, principal: Principal, filters: ListFilters, state: str | None, taxonomy: Taxonomy
) -> Select[Intent]:
    """The filtered statement a page is read from, limited to what the caller may see."""
    stmt = select(Intent).where(*_intent_scope(principal)).options(selectinload(Intent.domains))
    if filters.committee_id is not None:
        stmt = stmt.where(Intent.committee_id == filters.committee_id)
    if filters.organization_id is not None:
        stmt = stmt.where(Intent.organization_id == filters.organization_id)
    return _filtered(stmt, Intent, IntentDomain, filters=filters, state=state, taxonomy=taxonomy)


# --- memoranda ----------------------------------------------------------------------------------


def _signatory_is(principal: Principal) -> ColumnElement[bool]:
    if principal.committee_id is not None:
        return MemorandumSignatory.committee_id == principal.committee_id
    if principal.organization_id is not None:
        return MemorandumSignatory.organization_id == principal.organization_id
    return false()


def _memorandum_scope(principal: Principal) -> list[ColumnElement[bool]]:
    """Admins see every memorandum; a partner those its party is a signatory of."""
    if principal.is_admin:
        return []
    return [
        exists().where(MemorandumSignatory.memorandum_id == Memorandum.id, _signatory_is(principal))
    ]


def _memorandum_loads() -> tuple[Any, ...]:
    return (
        selectinload(Memorandum.signatories).selectinload(MemorandumSignatory.consents),
        selectinload(Memorandum.domains),
    )


def memorandum_parties(memorandum: Memorandum) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """The committees and the organizations that are its signatories, in the order given."""
    committees = [s.committee_id for s in memorandum.signatories if s.committee_id is not None]
    organizations = [
        s.organization_id for s in memorandum.signatories if s.organization_id is not None
    ]
    return committees, organizations


def _party_id(signatory: MemorandumSignatory) -> uuid.UUID:
    party = signatory.committee_id or signatory.organization_id
    assert party is not None  # the one_party constraint
    return party


def _without(memorandum: Memorandum, act: str) -> list[str]:
    """The signatories (their committee or organization id) that have not given this consent."""
    return [str(_party_id(s)) for s in memorandum.signatories if s.consent(act) is None]


def memorandum_payload(memorandum: Memorandum, codes: dict[uuid.UUID, str]) -> dict[str, Any]:
    """A memorandum as webhooks carry it."""
    committees, organizations = memorandum_parties(memorandum)
    return {
        "id": memorandum.id,
        "title": memorandum.title,
        "title_en": memorandum.title_en,
        "committee_ids": committees,
        "organization_ids": organizations,
        "domains": [codes[d.domain_id] for d in memorandum.domains],
        "signed_on": memorandum.signed_on,
        "effective_from": memorandum.effective_from,
        "effective_to": memorandum.effective_to,
        "document": {"uri": memorandum.document_uri, "sha256": memorandum.document_sha256},
        "event_id": memorandum.event_id,
        "state": memorandum.state,
    }


async def get_memorandum(
    session: AsyncSession, *, principal: Principal, memorandum_id: uuid.UUID, lock: bool = False
) -> Memorandum:
    """One memorandum the caller may see; one its party is no signatory of answers 404."""
    scope, loads = _memorandum_scope(principal), _memorandum_loads()
    return await _visible(session, Memorandum, memorandum_id, scope, loads, lock=lock)


async def _announce_signed(
    session: AsyncSession, memorandum: Memorandum, principal: Principal | None, taxonomy: Taxonomy
) -> None:
    if principal is not None:
        committees, organizations = memorandum_parties(memorandum)
        await emit(
            session,
            type="memorandum.signed",
            data=memorandum_payload(memorandum, taxonomy.codes),
            parties=[*committees, *organizations],
        )


async def create_memorandum(
    session: AsyncSession,
    *,
    principal: Principal | None,
    data: MemorandumIn,
    taxonomy: Taxonomy,
    memorandum_id: uuid.UUID | None = None,
) -> Memorandum:
    """Record a memorandum. An admin (or the demo data) records one signed on paper, with every
    signatory's signature; a partner proposes it with its own signature, and it is signed when
    the last signatory signs (tells subscribers: memorandum.signed)."""
    if principal is not None:
        _require_party(
            principal, committee_ids=data.committee_ids, organization_ids=data.organization_ids
        )
    await _check_parties(
        session, committee_ids=data.committee_ids, organization_ids=data.organization_ids
    )
    domain_ids = _domain_ids(taxonomy, data.domains)
    signatories = [MemorandumSignatory(committee_id=c) for c in data.committee_ids] + [
        MemorandumSignatory(organization_id=o) for o in data.organization_ids
    ]
    actor = await _actor(session, principal)
    for position, signatory in enumerate(signatories):
        signatory.position = position
        for_all = principal is None or principal.is_admin
        signatory.consents = (
            [MemorandumConsent(act="sign", **actor)]
            if for_all or (principal is not None and principal.speaks_for(signatory))
            else []
        )
    await _check_event_refs(session, event_id=data.event_id)
    state = "signed" if all(s.consents for s in signatories) else "proposed"
    memorandum = Memorandum(
        id=memorandum_id or new_id(),
        title=data.title,
        title_en=data.title_en,
        signed_on=data.signed_on,
        effective_from=data.effective_from,
        effective_to=data.effective_to,
        document_uri=data.document.uri,
        document_sha256=data.document.sha256,
        event_id=data.event_id,
        notes=data.notes,
        state=state,
        signatories=signatories,
        domains=[MemorandumDomain(domain_id=d, position=i) for i, d in enumerate(domain_ids)],
    )
    session.add(memorandum)
    session.add(
        MemorandumTransition(
            memorandum_id=memorandum.id, from_state=None, to_state=state, note="", **actor
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:  # a party deleted since it was checked
        raise UnknownParty("A signatory no longer exists.") from exc
    if state == "signed":
        await _announce_signed(session, memorandum, principal, taxonomy)
    return memorandum


async def update_memorandum(
    session: AsyncSession,
    *,
    principal: Principal,
    memorandum_id: uuid.UUID,
    patch: MemorandumPatch,
    if_match: str | None,
) -> Memorandum:
    """Change the notes; the signed content never changes (409)."""
    memorandum = await get_memorandum(
        session, principal=principal, memorandum_id=memorandum_id, lock=True
    )
    content = sorted(patch.model_fields_set & CONTENT_FIELDS)
    if content:
        raise MemorandumSigned(
            f"The memorandum was signed on {memorandum.signed_on}; its content "
            f"({', '.join(content)}) cannot change. Only notes and its state may.",
            fields=content,
        )
    require_match(if_match, version=memorandum.version)
    if patch.notes is not None:
        memorandum.notes = patch.notes
    stamp_if_changed(session, memorandum)
    await session.flush()
    return memorandum


def _signatory_for(
    memorandum: Memorandum, principal: Principal, party_id: uuid.UUID | None
) -> MemorandumSignatory:
    """The signatory a key acts for: a partner's own party; for an admin, the one it names."""
    if not principal.is_admin:
        if party_id is not None and not principal.is_party(
            committee_id=party_id, organization_id=party_id
        ):
            raise NotAParty("A partner key signs only for its own party; leave party_id out.")
        return next(s for s in memorandum.signatories if principal.speaks_for(s))
    if party_id is None:
        raise SignatoryRequired(
            "An admin signs for a signatory: name its committee or organization id in party_id "
            f"(still to sign: {', '.join(_without(memorandum, 'sign')) or 'none'}).",
            errors=[{"field": "party_id", "message": "required for an admin key"}],
        )
    for signatory in memorandum.signatories:
        if _party_id(signatory) == party_id:
            return signatory
    raise UnknownParty(
        f"{party_id} is not a signatory of this memorandum.",
        errors=[{"field": "party_id", "message": "not a signatory"}],
    )


async def _consent(
    session: AsyncSession,
    memorandum: Memorandum,
    signatory: MemorandumSignatory,
    *,
    act: str,
    note: str,
    actor: dict[str, Any],
) -> None:
    """Keep one signatory's consent; a second one of the same act is refused by the database
    too, when two keys of one party race."""
    signatory.consents.append(MemorandumConsent(act=act, note=note, **actor))
    memorandum.updated_at = utcnow()
    try:
        await session.flush()
    except IntegrityError as exc:
        raise AlreadySigned(f"{_party_id(signatory)} has already given this consent.") from exc


async def sign_memorandum(
    session: AsyncSession,
    *,
    principal: Principal,
    memorandum_id: uuid.UUID,
    party_id: uuid.UUID | None,
    note: str,
    taxonomy: Taxonomy,
) -> Memorandum:
    """One signatory's signature (a partner signs for its own party, an admin for the party it
    names); the last one makes the memorandum signed and tells subscribers."""
    memorandum = await get_memorandum(
        session, principal=principal, memorandum_id=memorandum_id, lock=True
    )
    signatory = _signatory_for(memorandum, principal, party_id)
    if signatory.consent("sign") is not None or memorandum.state != "proposed":
        raise AlreadySigned(
            f"{_party_id(signatory)} has already signed this memorandum (state "
            f"{memorandum.state}); still to sign: "
            f"{', '.join(_without(memorandum, 'sign')) or 'none'}.",
            awaiting=_without(memorandum, "sign"),
        )
    actor = await _actor(session, principal)
    await _consent(session, memorandum, signatory, act="sign", note=note, actor=actor)
    if not _without(memorandum, "sign"):
        await _record_step(
            session, memorandum, MemorandumTransition, to="signed", note=note, actor=actor
        )
        await _announce_signed(session, memorandum, principal, taxonomy)
    return memorandum


async def transition_memorandum(
    session: AsyncSession,
    *,
    principal: Principal,
    memorandum_id: uuid.UUID,
    to: str,
    note: str,
    if_match: str | None,
) -> tuple[Memorandum, bool]:
    """Move a memorandum along its states and keep the step; whether it moved. A partner's
    termination is a request that takes effect once every signatory has asked (an admin's at
    once)."""
    memorandum = await get_memorandum(
        session, principal=principal, memorandum_id=memorandum_id, lock=True
    )
    require_match(if_match, version=memorandum.version)
    if memorandum.state == "proposed":
        awaiting = _without(memorandum, "sign")
        raise SignaturesMissing(
            f"The memorandum is not signed yet; still to sign: {', '.join(awaiting)} (POST :sign).",
            awaiting=awaiting,
        )
    _check_edge(memorandum, to, MEMORANDUM_FLOW)
    actor = await _actor(session, principal)
    if to == "terminated" and not principal.is_admin:
        signatory = next(s for s in memorandum.signatories if principal.speaks_for(s))
        if signatory.consent("terminate") is not None:
            awaiting = _without(memorandum, "terminate")
            raise TerminationAlreadyRequested(
                f"{_party_id(signatory)} has already asked to terminate; it takes effect when "
                f"these signatories ask too (or an admin terminates it): {', '.join(awaiting)}.",
                awaiting=awaiting,
            )
        await _consent(session, memorandum, signatory, act="terminate", note=note, actor=actor)
        if _without(memorandum, "terminate"):
            return memorandum, False
    await _record_step(session, memorandum, MemorandumTransition, to=to, note=note, actor=actor)
    return memorandum, True


async def memorandum_history(
    session: AsyncSession, *, principal: Principal, memorandum_id: uuid.UUID
) -> Select[Any]:
    """The statement a page of one visible memorandum's history is read from."""
    await get_memorandum(session, principal=principal, memorandum_id=memorandum_id)
    return _history_of(MemorandumTransition, memorandum_id)


def list_memoranda(
    *, principal: Principal, filters: ListFilters, state: str | None, taxonomy: Taxonomy
) -> Select[Memorandum]:
    """The filtered statement a page is read from, limited to what the caller may see."""
    stmt = select(Memorandum).where(*_memorandum_scope(principal)).options(*_memorandum_loads())
    for column, party_id in (
        (MemorandumSignatory.committee_id, filters.committee_id),
        (MemorandumSignatory.organization_id, filters.organization_id),
    ):
        if party_id is not None:
            stmt = stmt.where(
                exists().where(
                    MemorandumSignatory.memorandum_id == Memorandum.id, column == party_id
                )
            )
    return _filtered(
        stmt, Memorandum, MemorandumDomain, filters=filters, state=state, taxonomy=taxonomy
    )


# --- demo ---------------------------------------------------------------------------------------

DEMO_NAMESPACE = uuid.UUID("5d1c7a3e-2b4f-4e8a-9c6d-0a1b2c3d4e5f")


async def load_demo_agreements(
    session: AsyncSession,
    *,
    data: dict[str, Any],
    taxonomy: Taxonomy,
    event_id: uuid.UUID | None = None,
) -> dict[str, int]:
    """The demo's intents and memoranda under stable ids; records already there are left alone."""
    committees = dict((await session.execute(select(Committee.designation, Committee.id))).all())
    organizations = dict(
        (
            await session.execute(
                select(Organization.credit_code, Organization.id).where(
                    Organization.credit_code.is_not(None)
                )
            )
        ).all()
    )
    for item in data["intents"]:
        intent_id = uuid.uuid5(DEMO_NAMESPACE, f"intent:{item['committee']}:{item['organization']}")
        if await session.get(Intent, intent_id) is None:
            body = IntentIn(
                committee_id=committees[item["committee"]],
                organization_id=organizations[item["organization"]],
                event_id=event_id,
                domains=item["domains"],
                summary=item["summary"],
                target_date=date.fromisoformat(item["target_date"]),
            )
            await create_intent(
                session,
                principal=None,
                data=body,
                taxonomy=taxonomy,
                state=item["state"],
                intent_id=intent_id,
            )
    for item in data["memoranda"]:
        memorandum_id = uuid.uuid5(DEMO_NAMESPACE, f"memorandum:{item['document']['sha256']}")
        if await session.get(Memorandum, memorandum_id) is None:
            memorandum = MemorandumIn.model_validate(
                {
                    **{k: item[k] for k in ("title", "title_en", "domains", "document")},
                    **{k: item[k] for k in ("signed_on", "effective_from", "effective_to")},
                    "committee_ids": [committees[c] for c in item["committees"]],
                    "organization_ids": [organizations[o] for o in item["organizations"]],
                    "event_id": event_id,
                }
            )
            await create_memorandum(
                session,
                principal=None,
                data=memorandum,
                taxonomy=taxonomy,
                memorandum_id=memorandum_id,
            )
    return {"intents": len(data["intents"]), "memoranda": len(data["memoranda"])}
