"""The rules of intents and memoranda: who sees them, how their states move, what is kept."""

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

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
from service.directory.service import UnknownDomain, domain_codes, load_taxonomy
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
    MemorandumDomain,
    MemorandumSignatory,
    MemorandumTransition,
    Organization,
)
from service.models.columns import new_id, utcnow
from service.versions import require_match
from service.webhooks.service import emit

INTENT_FLOW: dict[str, tuple[str, ...]] = {
    "proposed": ("confirmed", "withdrawn"),
    "confirmed": ("in_progress", "withdrawn"),
    "in_progress": ("fulfilled", "withdrawn"),
    "fulfilled": (),
    "withdrawn": (),
}
MEMORANDUM_FLOW: dict[str, tuple[str, ...]] = {
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


# --- shared -------------------------------------------------------------------------------------


async def _domain_ids(session: AsyncSession, codes: Sequence[str]) -> list[uuid.UUID]:
    taxonomy = await load_taxonomy(session)
    unknown = [(i, c) for i, c in enumerate(codes) if c not in taxonomy.by_code]
    if unknown:
        raise UnknownDomain(
            "Unknown domain " + ", ".join(repr(c) for _, c in unknown) + "; see GET /v1/domains.",
            errors=[
                {"field": f"domains[{i}]", "message": f"unknown domain {c!r}"} for i, c in unknown
            ],
        )
    return [taxonomy.by_code[c].id for c in codes]


async def _subtree(session: AsyncSession, code: str) -> set[uuid.UUID]:
    taxonomy = await load_taxonomy(session)
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


def _refuse(kind: str, state: str, to: str, allowed: tuple[str, ...]) -> InvalidTransition:
    where = ", ".join(allowed) if allowed else "nowhere (it is final)"
    return InvalidTransition(
        f"A {kind} in state {state} cannot move to {to}; it may move to {where}.",
        state=state,
        allowed=list(allowed),
    )


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
    stmt = (
        select(Intent)
        .where(Intent.id == intent_id, *_intent_scope(principal))
        .options(selectinload(Intent.domains))
    )
    # Locked for a change, so a concurrent writer waits and then fails If-Match cleanly.
    intent = await session.scalar(stmt.with_for_update(of=Intent) if lock else stmt)
    if intent is None:
        raise NotFound(f"No intent has id {intent_id}.")
    return intent


def _apply_contacts(intent: Intent, side: str, contact: Contact | None) -> None:
    for part in ("name", "email", "phone"):
        setattr(intent, f"{side}_contact_{part}", getattr(contact, part) if contact else None)


async def create_intent(
    session: AsyncSession,
    *,
    principal: Principal | None,
    data: IntentIn,
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
    domain_ids = await _domain_ids(session, data.domains)
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
    )
    _apply_contacts(intent, "committee", data.committee_contact)
    _apply_contacts(intent, "organization", data.organization_contact)
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
            data=intent_payload(intent, await domain_codes(session)),
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
) -> Intent:
    """Apply the fields sent, against the version the client read."""
    intent = await get_intent(session, principal=principal, intent_id=intent_id, lock=True)
    require_match(if_match, version=intent.version)
    sent = patch.model_fields_set
    if "domains" in sent and patch.domains is not None:
        ids = await _domain_ids(session, patch.domains)
        existing = {d.domain_id: d for d in intent.domains}
        intent.domains = [
            existing.get(d) or IntentDomain(domain_id=d, position=i) for i, d in enumerate(ids)
        ]
        for i, link in enumerate(intent.domains):
            link.position = i
    if "summary" in sent and patch.summary is not None:
        intent.summary = patch.summary
    if "target_date" in sent:
        intent.target_date = patch.target_date
    for side in ("committee", "organization"):
        if f"{side}_contact" in sent:
            _apply_contacts(intent, side, getattr(patch, f"{side}_contact"))
    intent.updated_at = utcnow()
    await session.flush()
    return intent


async def transition_intent(
    session: AsyncSession,
    *,
    principal: Principal,
    intent_id: uuid.UUID,
    to: str,
    note: str,
    if_match: str | None,
) -> Intent:
    """Move an intent along its states, keep the step, and tell subscribers."""
    intent = await get_intent(session, principal=principal, intent_id=intent_id, lock=True)
    require_match(if_match, version=intent.version)
    allowed = INTENT_FLOW[intent.state]
    if to not in allowed:
        raise _refuse("intent", intent.state, to, allowed)
    from_state, intent.state = intent.state, to
    intent.updated_at = utcnow()
    session.add(
        IntentTransition(
            intent_id=intent.id,
            from_state=from_state,
            to_state=to,
            note=note,
            **await _actor(session, principal),
        )
    )
    await session.flush()
    await emit(
        session,
        type="intent.state_changed",
        data={
            "intent": intent_payload(intent, await domain_codes(session)),
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
) -> Select[IntentTransition]:
    """The statement a page of one visible intent's history is read from."""
    await get_intent(session, principal=principal, intent_id=intent_id)
    return select(IntentTransition).where(IntentTransition.intent_id == intent_id)


async def list_intents(
    session: AsyncSession,
    *,
    principal: Principal,
    event_id: uuid.UUID | None,
    committee_id: uuid.UUID | None,
    organization_id: uuid.UUID | None,
    domain: str | None,
    state: str | None,
) -> Select[Intent]:
    """The filtered statement a page is read from, limited to what the caller may see."""
    stmt = select(Intent).where(*_intent_scope(principal)).options(selectinload(Intent.domains))
    if event_id is not None:
        stmt = stmt.where(Intent.event_id == event_id)
    if committee_id is not None:
        stmt = stmt.where(Intent.committee_id == committee_id)
    if organization_id is not None:
        stmt = stmt.where(Intent.organization_id == organization_id)
    if state is not None:
        stmt = stmt.where(Intent.state == state)
    if domain:
        subtree = await _subtree(session, domain)
        stmt = stmt.where(
            exists().where(IntentDomain.intent_id == Intent.id, IntentDomain.domain_id.in_(subtree))
        )
    return stmt


# --- memoranda ----------------------------------------------------------------------------------


def _signatory_is(principal: Principal) -> ColumnElement[bool]:
    if principal.committee_id is not None:
        return MemorandumSignatory.committee_id == principal.committee_id
    if principal.organization_id is not None:
        return MemorandumSignatory.organization_id == principal.organization_id
    return false()


def _memorandum_scope(principal: Principal) -> list[ColumnElement[bool]]:
    """Admins see every memorandum; a partner those its party signed."""
    if principal.is_admin:
        return []
    return [
        exists().where(MemorandumSignatory.memorandum_id == Memorandum.id, _signatory_is(principal))
    ]


def memorandum_parties(memorandum: Memorandum) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """The committees and the organizations that signed, in the order given."""
    committees = [s.committee_id for s in memorandum.signatories if s.committee_id is not None]
    organizations = [
        s.organization_id for s in memorandum.signatories if s.organization_id is not None
    ]
    return committees, organizations


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
    """One memorandum the caller may see; one its party did not sign answers 404."""
    stmt = (
        select(Memorandum)
        .where(Memorandum.id == memorandum_id, *_memorandum_scope(principal))
        .options(selectinload(Memorandum.signatories), selectinload(Memorandum.domains))
    )
    memorandum = await session.scalar(stmt.with_for_update(of=Memorandum) if lock else stmt)
    if memorandum is None:
        raise NotFound(f"No memorandum has id {memorandum_id}.")
    return memorandum


async def create_memorandum(
    session: AsyncSession,
    *,
    principal: Principal | None,
    data: MemorandumIn,
    memorandum_id: uuid.UUID | None = None,
) -> Memorandum:
    """Record a signed memorandum and its signing; tells subscribers (memorandum.signed)."""
    if principal is not None:
        _require_party(
            principal, committee_ids=data.committee_ids, organization_ids=data.organization_ids
        )
    await _check_parties(
        session, committee_ids=data.committee_ids, organization_ids=data.organization_ids
    )
    domain_ids = await _domain_ids(session, data.domains)
    signatories = [MemorandumSignatory(committee_id=c) for c in data.committee_ids] + [
        MemorandumSignatory(organization_id=o) for o in data.organization_ids
    ]
    for position, signatory in enumerate(signatories):
        signatory.position = position
    await _check_event_refs(session, event_id=data.event_id)
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
        state="signed",
        signatories=signatories,
        domains=[MemorandumDomain(domain_id=d, position=i) for i, d in enumerate(domain_ids)],
    )
    session.add(memorandum)
    session.add(
        MemorandumTransition(
            memorandum_id=memorandum.id,
            from_state=None,
            to_state="signed",
            note="",
            **await _actor(session, principal),
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:  # a party deleted since it was checked
        raise UnknownParty("A signatory no longer exists.") from exc
    if principal is not None:
        committees, organizations = memorandum_parties(memorandum)
        await emit(
            session,
            type="memorandum.signed",
            data=memorandum_payload(memorandum, await domain_codes(session)),
            parties=[*committees, *organizations],
        )
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
        memorandum.updated_at = utcnow()
    await session.flush()
    return memorandum


async def transition_memorandum(
    session: AsyncSession,
    *,
    principal: Principal,
    memorandum_id: uuid.UUID,
    to: str,
    note: str,
    if_match: str | None,
) -> Memorandum:
    """Move a memorandum along its states and keep the step."""
    memorandum = await get_memorandum(
        session, principal=principal, memorandum_id=memorandum_id, lock=True
    )
    require_match(if_match, version=memorandum.version)
    allowed = MEMORANDUM_FLOW[memorandum.state]
    if to not in allowed:
        raise _refuse("memorandum", memorandum.state, to, allowed)
    from_state, memorandum.state = memorandum.state, to
    memorandum.updated_at = utcnow()
    session.add(
        MemorandumTransition(
            memorandum_id=memorandum.id,
            from_state=from_state,
            to_state=to,
            note=note,
            **await _actor(session, principal),
        )
    )
    await session.flush()
    return memorandum


async def memorandum_history(
    session: AsyncSession, *, principal: Principal, memorandum_id: uuid.UUID
) -> Select[MemorandumTransition]:
    """The statement a page of one visible memorandum's history is read from."""
    await get_memorandum(session, principal=principal, memorandum_id=memorandum_id)
    return select(MemorandumTransition).where(MemorandumTransition.memorandum_id == memorandum_id)


async def list_memoranda(
    session: AsyncSession,
    *,
    principal: Principal,
    event_id: uuid.UUID | None,
    committee_id: uuid.UUID | None,
    organization_id: uuid.UUID | None,
    domain: str | None,
    state: str | None,
) -> Select[Memorandum]:
    """The filtered statement a page is read from, limited to what the caller may see."""
    stmt = (
        select(Memorandum)
        .where(*_memorandum_scope(principal))
        .options(selectinload(Memorandum.signatories), selectinload(Memorandum.domains))
    )
    if event_id is not None:
        stmt = stmt.where(Memorandum.event_id == event_id)
    if committee_id is not None:
        stmt = stmt.where(
            exists().where(
                MemorandumSignatory.memorandum_id == Memorandum.id,
                MemorandumSignatory.committee_id == committee_id,
            )
        )
    if organization_id is not None:
        stmt = stmt.where(
            exists().where(
                MemorandumSignatory.memorandum_id == Memorandum.id,
                MemorandumSignatory.organization_id == organization_id,
            )
        )
    if state is not None:
        stmt = stmt.where(Memorandum.state == state)
    if domain:
        subtree = await _subtree(session, domain)
        stmt = stmt.where(
            exists().where(
                MemorandumDomain.memorandum_id == Memorandum.id,
                MemorandumDomain.domain_id.in_(subtree),
            )
        )
    return stmt


# --- demo ---------------------------------------------------------------------------------------

DEMO_NAMESPACE = uuid.UUID("5d1c7a3e-2b4f-4e8a-9c6d-0a1b2c3d4e5f")


async def load_demo_agreements(
    session: AsyncSession, *, data: dict[str, Any], event_id: uuid.UUID | None = None
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
                session, principal=None, data=body, state=item["state"], intent_id=intent_id
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
                session, principal=None, data=memorandum, memorandum_id=memorandum_id
            )
    return {"intents": len(data["intents"]), "memoranda": len(data["memoranda"])}
