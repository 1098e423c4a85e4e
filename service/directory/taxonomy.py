"""The domain taxonomy: the shipped bilingual forest, its table, and the copy each process keeps.

The taxonomy changes only at `migrate` (`sync_taxonomy`), so a process reads it once and hands
it to routes as `TaxonomyDep`; a sync in the same process makes the next request read it again.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.directory.schemas import DomainWeight
from service.errors import Unprocessable
from service.models import Domain
from service.scoring.inference import DomainWords, Lexicon

DOMAIN_NAMESPACE = uuid.UUID("0b3c5d2e-6f71-4a8b-9c0d-1e2f3a4b5c6d")


class UnknownDomain(Unprocessable):
    code, title = "unknown_domain", "Unknown domain"


def domain_id(code: str) -> uuid.UUID:
    """The stable id of a domain code, the same on every database."""
    return uuid.uuid5(DOMAIN_NAMESPACE, code)


@dataclass(frozen=True, slots=True)
class DomainEntry:
    """One domain as plain data: kept across requests, so never an ORM row that could expire."""

    id: uuid.UUID
    code: str
    parent_id: uuid.UUID | None
    name_en: str
    name_zh_hans: str
    name_zh_hant: str
    synonyms: tuple[str, ...]
    description_zh: str
    description_en: str

    @classmethod
    def of(cls, d: Domain) -> "DomainEntry":
        """The row's values."""
        return cls(
            d.id,
            d.code,
            d.parent_id,
            d.name_en,
            d.name_zh_hans,
            d.name_zh_hant,
            tuple(d.synonyms),
            d.description_zh,
            d.description_en,
        )


@dataclass(frozen=True)
class Taxonomy:
    """The domain forest: each process loads it once (see `TaxonomyDep`)."""

    by_code: dict[str, DomainEntry]
    by_id: dict[uuid.UUID, DomainEntry]
    children: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)
    lexicon: Lexicon = field(default_factory=lambda: Lexicon(()))

    @property
    def parents(self) -> dict[str, str | None]:
        """Each code's parent code, None for a root: the forest as scoring takes it."""
        return {
            d.code: self.code_of(d.parent_id) if d.parent_id else None
            for d in self.by_code.values()
        }

    @cached_property
    def codes(self) -> dict[uuid.UUID, str]:
        """Each domain id's code, to show domain links as codes (made once per taxonomy)."""
        return {id_: d.code for id_, d in self.by_id.items()}

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


async def load_taxonomy(session: AsyncSession) -> Taxonomy:
    """Every domain, indexed by code and id, with the children of each."""
    rows = (await session.scalars(select(Domain).order_by(Domain.position))).all()
    domains = [DomainEntry.of(d) for d in rows]
    children: dict[uuid.UUID, list[uuid.UUID]] = {}
    for d in domains:
        if d.parent_id is not None:
            children.setdefault(d.parent_id, []).append(d.id)
    return Taxonomy(
        {d.code: d for d in domains}, {d.id: d for d in domains}, children, lexicon(domains)
    )


def lexicon(domains: Sequence[DomainEntry]) -> Lexicon:
    """The words of every domain but the roots, which are too broad to read from a text."""
    return Lexicon(
        DomainWords(
            d.code,
            (d.code.replace("_", " "), d.name_en, d.name_zh_hans, d.name_zh_hant, *d.synonyms),
            f"{d.description_zh}、{d.description_en}",
        )
        for d in domains
        if d.parent_id is not None
    )


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
            "description_zh": item.get("description_zh", ""),
            "description_en": item.get("description_en", ""),
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
    global _generation
    _generation += 1
    return len(existing | {item["code"]: None for item in source})


# Bumped by every sync in this process, so that a process that synced (the ephemeral server,
# the tests) reads the forest again instead of keeping the copy it had.
_generation = 0


async def current_taxonomy(request: Request) -> Taxonomy:
    """The app's copy of the taxonomy, read on first use and again after a sync.

    Read in a session of its own, not the request's: a route that needs only the taxonomy then
    opens no session at all (a session costs about 0.3 ms of CPU even without a statement).
    """
    kept: tuple[int, Taxonomy] | None = getattr(request.app.state, "taxonomy", None)
    if kept is not None and kept[0] == _generation:
        return kept[1]
    generation = _generation
    async with request.app.state.sessionmaker() as session:
        taxonomy = await load_taxonomy(session)
    request.app.state.taxonomy = (generation, taxonomy)
    return taxonomy


TaxonomyDep = Annotated[Taxonomy, Depends(current_taxonomy)]
