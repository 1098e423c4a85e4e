"""Match scores from the current directory rows: a pair explained, and the best counterparts.

Nothing is cached between requests that could go stale: every answer reads the rows as they
are now, so a profile change shows in the next answer from any worker. The only memory kept is
of text tokens, keyed by the text itself, which a change can only miss, never mislead.
"""

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from service.directory import service as directory
from service.models import Committee, CommitteeDomain, Domain, Organization, OrganizationDomain
from service.scoring.index import Match, ProfileMatrix, top_matches
from service.scoring.reference import Explanation, explain
from service.scoring.taxonomy import Profile, Taxonomy
from service.scoring.text import text_tokens
from service.scoring.weights import ScoringWeights

# Which side of the directory a list of parties is on.
Side = Literal["committee", "organization"]


@dataclass(frozen=True, slots=True)
class Domains:
    """The taxonomy as the scoring engine takes it, and each domain's row for its names."""

    taxonomy: Taxonomy
    by_code: dict[str, Domain]
    code_of: dict[uuid.UUID, str]


# A counterpart row: a committee for an organization, an organization for a committee.
P = TypeVar("P", Committee, Organization)


@dataclass(frozen=True, slots=True)
class Scored(Generic[P]):
    """One scored counterpart and its explanation."""

    party: P
    score_hundredths: int
    explanation: Explanation


async def load_domains(session: AsyncSession) -> Domains:
    """The current domain forest, by code."""
    forest = await directory.load_taxonomy(session)
    parents = {
        d.code: forest.code_of(d.parent_id) if d.parent_id else None
        for d in forest.by_code.values()
    }
    return Domains(
        Taxonomy(parents=parents),
        forest.by_code,
        {d.id: d.code for d in forest.by_code.values()},
    )


@functools.lru_cache(maxsize=8192)
def _tokens(text: str) -> frozenset[str]:
    """text_tokens, remembered by the text itself: a changed scope or needs is a new key."""
    return text_tokens(text=text)


@dataclass(frozen=True, slots=True)
class Party:
    """What scoring needs of a committee or organization: id, domain links and text."""

    id: uuid.UUID
    links: tuple[tuple[str, float], ...]
    text: str

    def profile(self, *, weights: ScoringWeights) -> Profile:
        """The party as the scoring engine takes it; cutting text into words is the slow part."""
        # With the text signal off, cutting words would cost time and change nothing.
        tokens = _tokens(self.text) if weights.text > 0 else frozenset()
        return Profile(str(self.id), dict(self.links), tokens)


def committee_party(committee: Committee, *, domains: Domains) -> Party:
    """A committee loaded with its domains; its scope is its text."""
    links = tuple((domains.code_of[d.domain_id], d.weight) for d in committee.domains)
    return Party(committee.id, links, committee.scope)


def organization_party(organization: Organization, *, domains: Domains) -> Party:
    """An organization loaded with its domains; its standardization needs are its text."""
    links = tuple((domains.code_of[d.domain_id], d.weight) for d in organization.domains)
    return Party(organization.id, links, organization.needs)


async def _all_parties(session: AsyncSession, *, side: Side, domains: Domains) -> list[Party]:
    """Every committee or organization, from one query of just the columns scoring needs."""
    if side == "committee":
        stmt = select(
            Committee.id, Committee.scope, CommitteeDomain.domain_id, CommitteeDomain.weight
        ).outerjoin(CommitteeDomain, CommitteeDomain.committee_id == Committee.id)
    else:
        stmt = select(
            Organization.id,
            Organization.needs,
            OrganizationDomain.domain_id,
            OrganizationDomain.weight,
        ).outerjoin(OrganizationDomain, OrganizationDomain.organization_id == Organization.id)
    texts: dict[uuid.UUID, str] = {}
    links: dict[uuid.UUID, list[tuple[str, float]]] = {}
    for id_, text, domain_id, weight in await session.execute(stmt):
        texts[id_] = text
        party_links = links.setdefault(id_, [])
        if domain_id is not None:
            party_links.append((domains.code_of[domain_id], weight))
    return [Party(id_, tuple(links[id_]), text) for id_, text in texts.items()]


def check_domain(domains: Domains, *, code: str | None) -> None:
    """422 `unknown_domain` for a filter the taxonomy does not know."""
    if code is not None and code not in domains.by_code:
        raise directory.UnknownDomain(
            f"Unknown domain {code!r}; see GET /v1/domains.",
            errors=[{"field": "domain", "message": f"unknown domain {code!r}"}],
        )


@dataclass(frozen=True, slots=True)
class Pair:
    """A committee and an organization, the score of the pair and every line that earned it."""

    committee: Committee
    organization: Organization
    explanation: Explanation
    domains: Domains


@dataclass(frozen=True, slots=True)
class Ranking(Generic[P]):
    """Counterparts best first, with the domains their explanations name."""

    items: list[Scored[P]]
    domains: Domains


async def explain_pair(
    session: AsyncSession,
    *,
    committee_id: uuid.UUID,
    organization_id: uuid.UUID,
    weights: ScoringWeights,
) -> Pair:
    """The pair's score and explanation; 404 when either party does not exist."""
    committee = await directory.get_committee(session, committee_id=committee_id)
    organization = await directory.get_organization(session, organization_id=organization_id)
    domains = await load_domains(session)
    c = committee_party(committee, domains=domains)
    o = organization_party(organization, domains=domains)
    explanation = await run_in_threadpool(
        lambda: explain(
            taxonomy=domains.taxonomy,
            weights=weights,
            committee=c.profile(weights=weights),
            organization=o.profile(weights=weights),
        )
    )
    return Pair(committee, organization, explanation, domains)


def _rank(
    *,
    party: Party,
    among: Sequence[Party],
    side: Side,
    domains: Domains,
    weights: ScoringWeights,
    limit: int,
    min_score: float,
    domain: str | None,
) -> list[tuple[Match, Explanation]]:
    """The best of `among` (the `side` parties) for `party`, explained; CPU work only."""
    me = party.profile(weights=weights)
    profiles = [p.profile(weights=weights) for p in among]
    matrix = ProfileMatrix(taxonomy=domains.taxonomy, weights=weights, profiles=profiles)
    matches = top_matches(party=me, among=matrix, limit=limit, min_score=min_score, domain=domain)
    by_id = {p.id: p for p in profiles}
    ranked = []
    for m in matches:
        other = by_id[m.counterpart_id]
        committee, organization = (other, me) if side == "committee" else (me, other)
        e = explain(
            taxonomy=domains.taxonomy,
            weights=weights,
            committee=committee,
            organization=organization,
        )
        ranked.append((m, e))
    return ranked


async def _recommend(
    session: AsyncSession,
    *,
    party: Party,
    model: type[P],
    domains: Domains,
    weights: ScoringWeights,
    limit: int,
    min_score: float,
    domain: str | None,
) -> Ranking[P]:
    """The best counterparts (`model` rows) for `party`, best first, ties by id."""
    side: Side = "committee" if model is Committee else "organization"
    among = await _all_parties(session, side=side, domains=domains)
    # Cutting text into words and ranking hold the CPU: off the event loop, so one large
    # directory does not stall every other request of the worker.
    ranked = await run_in_threadpool(
        lambda: _rank(
            party=party,
            among=among,
            side=side,
            domains=domains,
            weights=weights,
            limit=limit,
            min_score=min_score,
            domain=domain,
        )
    )
    ids = [uuid.UUID(m.counterpart_id) for m, _ in ranked]
    rows = {r.id: r for r in await session.scalars(select(model).where(model.id.in_(ids)))}
    items = [Scored(rows[i], m.score_hundredths, e) for i, (m, e) in zip(ids, ranked, strict=True)]
    return Ranking(items, domains)


async def recommend_committees(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    weights: ScoringWeights,
    limit: int,
    min_score: float,
    domain: str | None,
) -> Ranking[Committee]:
    """The committees that best match an organization; 404 when it does not exist."""
    domains = await load_domains(session)
    check_domain(domains, code=domain)
    organization = await directory.get_organization(session, organization_id=organization_id)
    return await _recommend(
        session,
        party=organization_party(organization, domains=domains),
        model=Committee,
        domains=domains,
        weights=weights,
        limit=limit,
        min_score=min_score,
        domain=domain,
    )


async def recommend_organizations(
    session: AsyncSession,
    *,
    committee_id: uuid.UUID,
    weights: ScoringWeights,
    limit: int,
    min_score: float,
    domain: str | None,
) -> Ranking[Organization]:
    """The organizations that best match a committee; 404 when it does not exist."""
    domains = await load_domains(session)
    check_domain(domains, code=domain)
    committee = await directory.get_committee(session, committee_id=committee_id)
    return await _recommend(
        session,
        party=committee_party(committee, domains=domains),
        model=Organization,
        domains=domains,
        weights=weights,
        limit=limit,
        min_score=min_score,
        domain=domain,
    )
