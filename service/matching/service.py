"""Match scores from the current directory rows: a pair explained, and the best counterparts.

Nothing is cached between requests that could go stale: every answer reads the rows as they
are now, so a profile change shows in the next answer from any worker. What is kept is the
taxonomy (it changes only at `migrate`, see `service.directory.taxonomy`) and text tokens,
keyed by the text itself, which a change can only miss, never mislead.
"""

import functools
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import func, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from service.directory import service as directory
from service.directory.service import Side
from service.directory.taxonomy import DomainEntry
from service.directory.taxonomy import Taxonomy as Forest
from service.models import Committee, CommitteeDomain, Organization, OrganizationDomain
from service.models.events import DEFAULT_MIN_MEETING_SCORE
from service.scoring.index import Match, ProfileMatrix, top_matches
from service.scoring.reference import Explanation, explain
from service.scoring.taxonomy import Profile, Relation, Taxonomy
from service.scoring.text import text_tokens
from service.scoring.weights import ScoringWeights


@dataclass(frozen=True, slots=True)
class _Columns:
    """Where one side keeps what scoring reads: its table, its links and its words.

    Committees and organizations are scored the same way from different columns; this is the
    whole of the difference, so the code that reads either side is written once.
    """

    model: Any
    link: Any
    owner: Any
    texts: tuple[Any, ...]
    # What a recommendation shows of a counterpart (matching/schemas.py's summaries).
    shown: tuple[Any, ...]


_SIDES: dict[Side, _Columns] = {
    "committee": _Columns(
        Committee,
        CommitteeDomain,
        CommitteeDomain.committee_id,
        (Committee.scope,),
        (Committee.designation, Committee.level, Committee.name_zh, Committee.name_en),
    ),
    "organization": _Columns(
        Organization,
        OrganizationDomain,
        OrganizationDomain.organization_id,
        (Organization.needs, Organization.business_scope),
        (Organization.kind, Organization.name_zh, Organization.name_en),
    ),
}


@dataclass(frozen=True, slots=True)
class Domains:
    """The taxonomy as the scoring engine takes it, with the directory's counts, and names."""

    taxonomy: Taxonomy
    by_code: dict[str, DomainEntry]
    code_of: dict[uuid.UUID, str]


# A counterpart row: a committee for an organization, an organization for a committee.
P = TypeVar("P", Committee, Organization)


@dataclass(frozen=True, slots=True)
class Scored(Generic[P]):
    """One scored counterpart, its explanation and the sentences that say it."""

    party: P
    score_hundredths: int
    explanation: Explanation
    summary: "Summary"


# Both sides' links per domain, one round trip (a domain linked from both sides has two rows).
_LINK_COUNTS = union_all(
    *(
        select(columns.link.domain_id, func.count()).group_by(columns.link.domain_id)
        for columns in _SIDES.values()
    )
)


async def load_domains(session: AsyncSession, *, forest: Forest) -> Domains:
    """The forest with how many of the directory's domain links each domain holds now.

    The counts make a shared ancestor worth what it says (see docs/matching.md): both sides'
    links grouped in one statement, read on every call so that the credit follows the directory.
    """
    return _with_counts(forest, (await session.execute(_LINK_COUNTS)).all())


def _with_counts(forest: Forest, link_counts: Iterable[tuple[uuid.UUID, int]]) -> Domains:
    """The forest with the directory's links counted per domain (rows of domain id, count)."""
    counts: Counter[str] = Counter()
    for domain_id, n in link_counts:
        counts[forest.code_of(domain_id)] += n
    return Domains(
        Taxonomy(parents=forest.parents, counts=dict(counts)),
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
    inferred: frozenset[str] = frozenset()

    def profile(self, *, weights: ScoringWeights) -> Profile:
        """The party as the scoring engine takes it; cutting text into words is the slow part."""
        # With the text signal off, cutting words would cost time and change nothing.
        tokens = _tokens(self.text) if weights.text > 0 else frozenset()
        return Profile(str(self.id), dict(self.links), tokens, self.inferred)


def _text(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


def party_of(row: Committee | Organization, *, domains: Domains) -> Party:
    """A committee or organization loaded with its domains."""
    side: Side = "committee" if isinstance(row, Committee) else "organization"
    texts = [getattr(row, column.key) for column in _SIDES[side].texts]
    links = tuple((domains.code_of[d.domain_id], d.weight) for d in row.domains)
    inferred = frozenset(domains.code_of[d.domain_id] for d in row.domains if d.inferred)
    return Party(row.id, links, _text(*texts), inferred)


async def _all_parties(
    session: AsyncSession, *, side: Side, domains: Domains
) -> tuple[list[Party], dict[uuid.UUID, Any]]:
    """Every committee or organization, from one query of just the columns scoring needs and
    what a recommendation shows of each (a row of each, with `id` and the `shown` columns)."""
    columns = _SIDES[side]
    texts_at = slice(1, 1 + len(columns.texts))
    stmt = select(
        columns.model.id,
        *columns.texts,
        *columns.shown,
        columns.link.domain_id,
        columns.link.weight,
        columns.link.inferred,
    ).outerjoin(columns.link, columns.owner == columns.model.id)
    texts: dict[uuid.UUID, str] = {}
    shown: dict[uuid.UUID, Any] = {}
    links: dict[uuid.UUID, list[tuple[str, float]]] = {}
    inferred: dict[uuid.UUID, set[str]] = {}
    for row in await session.execute(stmt):
        id_ = row.id
        if id_ not in texts:
            texts[id_] = _text(*row[texts_at])
            shown[id_] = row
        party_links = links.setdefault(id_, [])
        party_inferred = inferred.setdefault(id_, set())
        if row.domain_id is not None:
            code = domains.code_of[row.domain_id]
            party_links.append((code, row.weight))
            if row.inferred:
                party_inferred.add(code)
    parties = [
        Party(id_, tuple(links[id_]), text, frozenset(inferred[id_])) for id_, text in texts.items()
    ]
    return parties, shown


def _party_with_counts(side: Side, party_id: uuid.UUID) -> Any:
    """One statement for `recommend`: the `side` party's rows (its id, words and each link, in
    link order; one row of NULL links without domains), then `_LINK_COUNTS`'s rows. A row is
    the party's where `id` is set, a count where it is NULL."""
    columns = _SIDES[side]
    party = (
        select(
            columns.model.id,
            *columns.texts,
            columns.link.domain_id,
            columns.link.weight,
            columns.link.inferred,
            columns.link.position,
            null().label("links"),
        )
        .outerjoin(columns.link, columns.owner == columns.model.id)
        .where(columns.model.id == party_id)
    )
    counts = [
        select(
            null(),
            *(null() for _ in columns.texts),
            other.link.domain_id,
            null(),
            null(),
            null(),
            func.count(),
        ).group_by(other.link.domain_id)
        for other in _SIDES.values()
    ]
    return union_all(party, *counts)


async def _party_and_domains(
    session: AsyncSession, *, side: Side, party_id: uuid.UUID, forest: Forest, domain: str | None
) -> tuple[Party, Domains]:
    """The party that asks for recommendations and the counted domains, in one round trip:
    a recommendation list is a partner's hot read, held to two statements. An unknown
    `domain` is refused before a missing party, as when the two were read apart."""
    rows = (await session.execute(_party_with_counts(side, party_id))).all()
    domains = _with_counts(forest, ((r.domain_id, r.links) for r in rows if r.id is None))
    check_domain(domains, code=domain)
    mine = sorted((r for r in rows if r.id is not None), key=lambda r: r.position or 0)
    if not mine:
        raise directory.not_found(side, party_id)
    texts = mine[0][1 : 1 + len(_SIDES[side].texts)]
    linked = [r for r in mine if r.domain_id is not None]
    party = Party(
        party_id,
        tuple((domains.code_of[r.domain_id], r.weight) for r in linked),
        _text(*texts),
        frozenset(domains.code_of[r.domain_id] for r in linked if r.inferred),
    )
    return party, domains


def check_domain(domains: Domains, *, code: str | None) -> None:
    """422 `unknown_domain` for a filter the taxonomy does not know."""
    if code is not None and code not in domains.by_code:
        raise directory.UnknownDomain(
            f"Unknown domain {code!r}; see GET /v1/domains.",
            errors=[{"field": "domain", "message": f"unknown domain {code!r}"}],
        )


# --- sentences ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Summary:
    """Why two parties should (or need not) meet, in Chinese and in English."""

    zh: str
    en: str


def _degree(credit: int) -> tuple[str, str]:
    """How specific a shared ancestor is, from what it earns (thousandths)."""
    if credit >= 800:
        return "很具体", "very specific"
    if credit >= 500:
        return "较具体", "fairly specific"
    if credit >= 200:
        return "较宽泛", "rather broad"
    return "很宽泛，几乎不说明问题", "so broad it says little"


def summarize(
    explanation: Explanation, *, committee: Profile, organization: Profile, domains: Domains
) -> Summary:
    """The explanation as an organizer would say it: what the two share, how specific that is,
    and what would raise the score. The numbers stay in the explanation's lines."""
    zh_name = {c: d.name_zh_hans for c, d in domains.by_code.items()}
    en_name = {c: d.name_en for c, d in domains.by_code.items()}
    if explanation.score_hundredths == 0:
        return Summary(
            "双方没有相关的领域，分数为 0，不必安排会谈。",
            "The two share no related domain: the score is 0 and a meeting is not suggested.",
        )
    zh: list[str] = [f"匹配分 {explanation.score:.2f}。"]
    en: list[str] = [f"Score {explanation.score:.2f}."]
    lines = [c for c in explanation.contributions if c.relation is not Relation.TEXT]
    exact = sorted(
        {c.committee_domain for c in lines if c.relation is Relation.EXACT and c.committee_domain}
    )
    if exact:
        zh.append(
            "双方都关注"
            + "、".join(f"「{zh_name[c]}」" for c in exact)
            + "（该领域覆盖目录的约 "
            + "、".join(f"{domains.taxonomy.coverage(code=c):.0%}" for c in exact)
            + "）。"
        )
        en.append(
            "Both work in "
            + ", ".join(en_name[c] for c in exact)
            + " (covering about "
            + ", ".join(f"{domains.taxonomy.coverage(code=c):.0%}" for c in exact)
            + " of the directory)."
        )
    for c in lines:
        if c.relation is Relation.EXACT or c.committee_domain is None:
            continue
        a, b = c.committee_domain, c.organization_domain
        assert b is not None
        ancestor = domains.taxonomy.common_ancestor(a=a, b=b)
        assert ancestor is not None
        degree_zh, degree_en = _degree(c.credit)
        zh.append(
            f"委员会的「{zh_name[a]}」与机构的「{zh_name[b]}」同属「{zh_name[ancestor]}」，"
            f"这一共同点{degree_zh}（按完全一致的 {c.credit / 10:.0f}% 计）。"
        )
        en.append(
            f"The committee's {en_name[a]} and the organization's {en_name[b]} meet in "
            f"{en_name[ancestor]}, which is {degree_en} (counted at {c.credit / 10:.0f}% of an "
            "exact match)."
        )
    if explanation.shared_words:
        words = "、".join(explanation.shared_words)
        zh.append(f"双方的文字都提到：{words}。")
        en.append(f"Both texts mention: {', '.join(explanation.shared_words)}.")
    inferred = [
        ("委员会", "committee's", sorted(committee.inferred)),
        ("机构", "organization's", sorted(organization.inferred)),
    ]
    for who_zh, who_en, codes in inferred:
        if codes:
            zh.append(
                f"{who_zh}的领域"
                + "、".join(f"「{zh_name[c]}」" for c in codes)
                + "是从其文字推断的，由人确认后会更可靠。"
            )
            en.append(
                f"The {who_en} domains "
                + ", ".join(en_name[c] for c in codes)
                + " were read from its own words; confirming them by hand makes the match surer."
            )
    missing = [
        (w, c)
        for c, w in committee.domains.items()
        if c not in organization.domains
        and not any(x.committee_domain == c and x.relation is Relation.EXACT for x in lines)
    ]
    if explanation.score_hundredths < round(DEFAULT_MIN_MEETING_SCORE * 100):
        zh.append("共同点很少：除非一方提出，不必安排会谈。")
        en.append("Little in common: not worth a meeting unless one side asks for it.")
    elif missing and explanation.score_hundredths < 10000:
        _, code = max(missing, key=lambda item: (item[0], item[1]))
        zh.append(f"若机构的业务也涉及「{zh_name[code]}」，分数会提高。")
        en.append(f"The score would rise if the organization also worked in {en_name[code]}.")
    elif explanation.score_hundredths < 10000:
        zh.append("委员会关注的领域机构都有；机构另有委员会未涵盖的领域，因此未满分。")
        en.append(
            "The organization covers every domain of the committee; it also works in domains "
            "the committee does not, which keeps the score below 100."
        )
    return Summary(" ".join(zh).replace("。 ", "。"), " ".join(en))


# --- scores -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pair:
    """A committee and an organization, the score of the pair and every line that earned it."""

    committee: Committee
    organization: Organization
    explanation: Explanation
    summary: Summary
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
    forest: Forest,
) -> Pair:
    """The pair's score and explanation; 404 when either party does not exist."""
    committee = await directory.get_committee(session, committee_id=committee_id)
    organization = await directory.get_organization(session, organization_id=organization_id)
    domains = await load_domains(session, forest=forest)
    c = party_of(committee, domains=domains).profile(weights=weights)
    o = party_of(organization, domains=domains).profile(weights=weights)

    def work() -> tuple[Explanation, Summary]:
        e = explain(taxonomy=domains.taxonomy, weights=weights, committee=c, organization=o)
        return e, summarize(e, committee=c, organization=o, domains=domains)

    explanation, summary = await run_in_threadpool(work)
    return Pair(committee, organization, explanation, summary, domains)


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
) -> list[tuple[Match, Explanation, Summary]]:
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
        summary = summarize(e, committee=committee, organization=organization, domains=domains)
        ranked.append((m, e, summary))
    return ranked


async def recommend(
    session: AsyncSession,
    *,
    party_id: uuid.UUID,
    side: Side,
    weights: ScoringWeights,
    forest: Forest,
    limit: int,
    min_score: float,
    domain: str | None,
) -> Ranking[Any]:
    """The best counterparts of the `side` party `party_id`, best first, ties by id; 404 when
    it does not exist. Committees get organizations, organizations committees."""
    party, domains = await _party_and_domains(
        session, side=side, party_id=party_id, forest=forest, domain=domain
    )
    other: Side = "organization" if side == "committee" else "committee"
    among, shown = await _all_parties(session, side=other, domains=domains)
    # Cutting text into words and ranking hold the CPU: off the event loop, so one large
    # directory does not stall every other request of the worker.
    ranked = await run_in_threadpool(
        lambda: _rank(
            party=party,
            among=among,
            side=other,
            domains=domains,
            weights=weights,
            limit=limit,
            min_score=min_score,
            domain=domain,
        )
    )
    items = [
        Scored(shown[uuid.UUID(m.counterpart_id)], m.score_hundredths, e, s) for m, e, s in ranked
    ]
    return Ranking(items, domains)
