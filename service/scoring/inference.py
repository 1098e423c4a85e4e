"""A profile's domains read from its own words: names, synonyms and descriptions found in text.

Pure: a `Lexicon` built once from the taxonomy, text in, (domain, confidence) out. The text is
folded (simplified script, half-width, lower case) like the taxonomy's words, so 寵物 finds
宠物 and "Cat Litter" finds "cat litter". Chinese terms are found anywhere in the text (Chinese
has no spaces to cut at, and a term such as 宠物食品 is one unit whatever a tokenizer makes of
it); latin terms only as whole words, so "ai" is not found inside "maintain".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.chinese import fold

# A domain's names and synonyms say more than a word of its description.
NAME_STRENGTH = 1.0
DESCRIPTION_STRENGTH = 0.5
# At most this many domains, and only those with at least this confidence and at least this
# share of the best one's: a profile of three clear domains beats one of eight vague ones.
MAX_DOMAINS = 4
MIN_CONFIDENCE = 0.35
MIN_SHARE_OF_BEST = 0.5

_CJK = re.compile(r"[\u3400-\u9fff]")
_SEPARATORS = re.compile(r"[、，,；;。/]|\band\b|\bor\b|\bsuch as\b|等")


@dataclass(frozen=True, slots=True)
class DomainWords:
    """What the taxonomy says of one domain, in either script and English."""

    code: str
    names: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True, slots=True)
class Inferred:
    """A domain read from text and how sure the reading is, in (0, 1]."""

    code: str
    confidence: float
    terms: tuple[str, ...]


def _terms_of(text: str) -> list[str]:
    """The phrases of a description: the items of its lists."""
    return [t.strip() for t in _SEPARATORS.split(fold(text)) if t.strip()]


def _usable(term: str) -> bool:
    """One Chinese character (钢, 泵) or one latin letter finds too much to say anything."""
    if _CJK.search(term):
        return len(term) >= 2
    return len(term) >= 2


class Lexicon:
    """Every term of every domain, folded, with the strength it lends its domain."""

    def __init__(self, domains: Iterable[DomainWords]) -> None:
        terms: dict[str, dict[str, float]] = {}
        for d in domains:
            found: dict[str, float] = {}
            for name in d.names:
                term = fold(name).strip()
                if _usable(term):
                    found[term] = NAME_STRENGTH
            for term in _terms_of(d.description):
                if _usable(term):
                    found.setdefault(term, DESCRIPTION_STRENGTH)
            terms[d.code] = found
        self.terms: Mapping[str, Mapping[str, float]] = terms
        self._latin = {
            term: re.compile(r"(?<![a-z0-9])" + re.escape(term) + r"(?![a-z0-9])")
            for found in terms.values()
            for term in found
            if not _CJK.search(term)
        }

    def _occurs(self, term: str, text: str) -> bool:
        pattern = self._latin.get(term)
        return term in text if pattern is None else pattern.search(text) is not None

    def infer(self, *, text: str) -> list[Inferred]:
        """The domains the text speaks of, surest first (ties by code).

        A domain's evidence is the sum of the strengths of its distinct terms found in the
        text; its confidence 1 - exp(-evidence): one name gives 0.63, a name and two words of
        the description 0.86. Deterministic: the same text and taxonomy give the same answer.
        """
        folded = fold(text)
        if not folded.strip():
            return []
        found: list[Inferred] = []
        for code in sorted(self.terms):
            strength = self.terms[code]
            found_terms = sorted(t for t in strength if self._occurs(t, folded))
            # A term inside a longer one found for the same domain (宠物 in 宠物食品) is the same
            # mention: it counts once, as the stronger of the two.
            hits = [t for t in found_terms if not any(t != u and t in u for u in found_terms)]
            evidence = sum(max(strength[u] for u in found_terms if u in t) for t in hits)
            if evidence > 0:
                confidence = round(1.0 - math.exp(-evidence), 3)
                found.append(Inferred(code, confidence, tuple(hits)))
        if not found:
            return []
        best = max(f.confidence for f in found)
        kept = [
            f
            for f in found
            if f.confidence >= MIN_CONFIDENCE and f.confidence >= MIN_SHARE_OF_BEST * best
        ]
        kept.sort(key=lambda f: (-f.confidence, f.code))
        return kept[:MAX_DOMAINS]
