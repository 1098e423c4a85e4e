"""Match scores over HTTP: one pair explained, and the best counterparts of a party."""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.dependencies import PartnerKey
from service.config import Settings
from service.db import SessionDep
from service.directory.service import Side
from service.directory.taxonomy import TaxonomyDep, UnknownDomain
from service.errors import NotFound, problem_responses
from service.matching import service
from service.matching.schemas import (
    CommitteeRecommendation,
    CommitteeRecommendations,
    CommitteeSummary,
    DomainName,
    MatchOut,
    OrganizationRecommendation,
    OrganizationRecommendations,
    OrganizationSummary,
    Reason,
    Summary,
)
from service.models import Committee, Organization
from service.scoring.reference import Explanation
from service.scoring.taxonomy import Relation
from service.scoring.weights import ScoringWeights

router = APIRouter(prefix="/v1", tags=["matching"])

REASONS = 3


def _weights(request: Request) -> ScoringWeights:
    settings: Settings = request.app.state.settings
    return settings.scoring_weights()


Weights = Annotated[ScoringWeights, Depends(_weights)]
RecommendationLimit = Annotated[
    int, Query(ge=1, le=100, description="How many counterparts, best first (at most 100).")
]
MinScore = Annotated[
    float,
    Query(
        ge=0, le=100, allow_inf_nan=False, description="Only counterparts scoring at least this."
    ),
]
DomainFilter = Annotated[
    str | None,
    Query(
        max_length=64,
        description="A domain code: only counterparts listing it or one of its descendants.",
    ),
]

_ORDER = (
    " Best first; equal scores in the order of their ids, the same in every process. Only "
    "counterparts scoring above 0 are listed. Read from the current directory on every call."
)


def _reasons(
    explanation: Explanation, domains: service.Domains, *, limit: int | None = None
) -> list[Reason]:
    def name(code: str | None, inferred: bool) -> DomainName | None:
        if code is None:
            return None
        d = domains.by_code[code]
        return DomainName(
            code=d.code,
            name_en=d.name_en,
            name_zh_hans=d.name_zh_hans,
            name_zh_hant=d.name_zh_hant,
            inferred=inferred,
        )

    return [
        Reason(
            committee_domain=name(c.committee_domain, c.committee_inferred),
            organization_domain=name(c.organization_domain, c.organization_inferred),
            relation=c.relation,
            share=c.share,
            specificity=c.credit / 1000,
            words=list(explanation.shared_words) if c.relation is Relation.TEXT else [],
        )
        for c in explanation.contributions[:limit]
    ]


def _summary(summary: service.Summary) -> Summary:
    return Summary(zh=summary.zh, en=summary.en)


def _committee(committee: Committee | Row[Any]) -> CommitteeSummary:
    return CommitteeSummary.model_validate(committee, from_attributes=True)


def _organization(organization: Organization | Row[Any]) -> OrganizationSummary:
    return OrganizationSummary.model_validate(organization, from_attributes=True)


@router.get(
    "/matches",
    operation_id="getMatch",
    summary="A committee–organization pair's score, explained",
    description="The score from 0 to 100 and the domain pairs (and the text signal) that earned "
    "it, each with its share; the shares add up exactly to the score. docs/matching.md has the "
    "formula.",
    responses=problem_responses(NotFound),
)
async def get_match(
    _: PartnerKey,
    session: SessionDep,
    weights: Weights,
    taxonomy: TaxonomyDep,
    committee_id: Annotated[uuid.UUID, Query(description="The committee's id.")],
    organization_id: Annotated[uuid.UUID, Query(description="The organization's id.")],
) -> MatchOut:
    pair = await service.explain_pair(
        session,
        committee_id=committee_id,
        organization_id=organization_id,
        weights=weights,
        forest=taxonomy,
    )
    return MatchOut(
        committee=_committee(pair.committee),
        organization=_organization(pair.organization),
        score=pair.explanation.score,
        summary=_summary(pair.summary),
        explanation=_reasons(pair.explanation, pair.domains),
    )


@dataclass
class RecommendationQuery:
    """What the two recommendation routes read besides the party: the scoring and the query."""

    weights: Weights
    taxonomy: TaxonomyDep
    limit: RecommendationLimit = 10
    min_score: MinScore = 0.0
    domain: DomainFilter = None


RecommendationQueryDep = Annotated[RecommendationQuery, Depends()]


class _Shown(TypedDict):
    """What a recommendation shows of a counterpart besides naming it."""

    score: float
    summary: Summary
    reasons: list[Reason]


async def _recommend(
    session: AsyncSession, side: Side, party_id: uuid.UUID, query: RecommendationQuery
) -> list[tuple[Any, _Shown]]:
    """The counterparts of the `side` party, best first, each with what a recommendation shows
    of it; the two routes differ only in which side asks and how the counterpart is named."""
    ranking = await service.recommend(
        session,
        party_id=party_id,
        side=side,
        weights=query.weights,
        forest=query.taxonomy,
        limit=query.limit,
        min_score=query.min_score,
        domain=query.domain,
    )
    return [
        (
            s.party,
            _Shown(
                score=s.score_hundredths / 100,
                summary=_summary(s.summary),
                reasons=_reasons(s.explanation, ranking.domains, limit=REASONS),
            ),
        )
        for s in ranking.items
    ]


@router.get(
    "/organizations/{organization_id}/recommendations",
    operation_id="recommendCommittees",
    summary="The committees that best match an organization",
    description="The best `limit` committees for the organization, each with its score and the "
    "three largest lines of its explanation." + _ORDER,
    responses=problem_responses(NotFound, UnknownDomain),
)
async def recommend_committees(
    organization_id: uuid.UUID, _: PartnerKey, session: SessionDep, query: RecommendationQueryDep
) -> CommitteeRecommendations:
    ranked = await _recommend(session, "organization", organization_id, query)
    return CommitteeRecommendations(
        items=[CommitteeRecommendation(committee=_committee(c), **shown) for c, shown in ranked]
    )


# The twin of recommend_committees: only the declaration (path, ids, summary, answer) differs.
@router.get(
    "/committees/{committee_id}/recommendations",
    operation_id="recommendOrganizations",
    summary="The enterprises, associations and institutes that best match a committee",
    description="The best `limit` organizations for the committee, each with its score and the "
    "three largest lines of its explanation." + _ORDER,
    responses=problem_responses(NotFound, UnknownDomain),
)
async def recommend_organizations(
    committee_id: uuid.UUID, _: PartnerKey, session: SessionDep, query: RecommendationQueryDep
) -> OrganizationRecommendations:
    ranked = await _recommend(session, "committee", committee_id, query)
    return OrganizationRecommendations(
        items=[
            OrganizationRecommendation(organization=_organization(o), **shown)
            for o, shown in ranked
        ]
    )
