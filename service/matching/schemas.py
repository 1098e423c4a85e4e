"""Match scores, their explanations and recommendations out."""

import uuid
from typing import Any

from pydantic import BaseModel, Field

from service.schemas import examples
from service.scoring.taxonomy import Relation

# The demo's worked example (docs/matching.md): ISO/TC 299 and a Hangzhou AI company. Ids are
# made up; every name and figure is the demo's.
TC_299: dict[str, Any] = {
    "id": "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
    "designation": "ISO/TC 299",
    "level": "international",
    "name_zh": "机器人",
    "name_en": "Robotics",
}
XIXI_LANSI: dict[str, Any] = {
    "id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
    "kind": "enterprise",
    "name_zh": "杭州西溪澜思人工智能科技有限公司",
    "name_en": "Hangzhou Xixi Lansi Artificial Intelligence Technology Co., Ltd.",
}
EMBODIED_AI = {
    "code": "embodied_ai",
    "name_en": "Embodied AI",
    "name_zh_hans": "具身智能",
    "name_zh_hant": "具身智能",
}
ARTIFICIAL_INTELLIGENCE = {
    "code": "artificial_intelligence",
    "name_en": "Artificial intelligence",
    "name_zh_hans": "人工智能",
    "name_zh_hant": "人工智能",
}
ROBOTICS = {
    "code": "robotics",
    "name_en": "Robotics",
    "name_zh_hans": "机器人",
    "name_zh_hant": "機器人",
}
HUMANOID_ROBOTS = {
    "code": "humanoid_robots",
    "name_en": "Humanoid robots",
    "name_zh_hans": "人形机器人",
    "name_zh_hant": "人形機器人",
}
SC_42: dict[str, Any] = {
    "designation": "ISO/IEC JTC 1/SC 42",
    "level": "international",
    "name_zh": "人工智能",
    "name_en": "Artificial intelligence",
}
MIIT_TC1: dict[str, Any] = {
    "designation": "MIIT/TC1",
    "level": "industry",
    "name_zh": "工业和信息化部人工智能标准化技术委员会",
    "name_en": "MIIT Artificial Intelligence Standardization Technical Committee",
}


def _line(
    committee: dict[str, str] | None,
    organization: dict[str, str] | None,
    relation: str,
    share: float,
    specificity: float = 1.0,
    words: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "committee_domain": committee,
        "organization_domain": organization,
        "relation": relation,
        "share": share,
        "specificity": specificity,
        "words": words or [],
    }


WORKED_EXAMPLE: list[dict[str, Any]] = [
    _line(EMBODIED_AI, EMBODIED_AI, "exact", 35.81),
    _line(EMBODIED_AI, ARTIFICIAL_INTELLIGENCE, "parent_child", 18.98, 0.802),
    _line(ROBOTICS, ARTIFICIAL_INTELLIGENCE, "sibling", 11.56, 0.428),
    _line(None, None, "text", 0.34, 0.153, ["工业", "服务"]),
]


SUMMARY_SC_42 = {
    "zh": "匹配分 100.00。双方都关注「人工智能」、「具身智能」（该领域覆盖目录的约 7%、5%）。",
    "en": "Score 100.00. Both work in Artificial intelligence, Embodied AI (covering about 7%, "
    "5% of the directory).",
}
SUMMARY_TC_299 = {
    "zh": "匹配分 66.69。双方都关注「具身智能」（该领域覆盖目录的约 5%）。委员会的「具身智能」与"
    "机构的「人工智能」同属「人工智能」，这一共同点很具"
    "体（按完全一致的 80% 计）。委员会的「机器人」"
    "与机构的「人工智能」同属「未来产业」，这一共同点较"
    "宽泛（按完全一致的 43% 计）。双方的文字都提到："
    "工业、服务。若机构的业务也涉及「机器人」，分数会提高。",
    "en": "Score 66.69. Both work in Embodied AI (covering about 5% of the directory). The "
    "committee's Embodied AI and the organization's Artificial intelligence meet in Artificial "
    "intelligence, which is very specific (counted at 80% of an exact match). The committee's "
    "Robotics and the organization's Artificial intelligence meet in Future industries, which "
    "is rather broad (counted at 43% of an exact match). Both texts mention: 工业, 服务. The "
    "score would rise if the organization also worked in Robotics.",
}


class DomainName(BaseModel):
    """A domain of the taxonomy with its names, and whether the party's own words gave it."""

    model_config = examples(EMBODIED_AI)

    code: str
    name_en: str
    name_zh_hans: str
    name_zh_hant: str
    inferred: bool = Field(
        False,
        description="true when the domain was read from the party's own words rather than "
        "chosen by a person (see `inferred_domains` on the profile).",
    )


class Summary(BaseModel):
    """Why the two should meet, as an organizer would say it."""

    model_config = examples(SUMMARY_TC_299)

    zh: str = Field(description="In Chinese.")
    en: str = Field(description="In English.")


class Reason(BaseModel):
    """One line of an explanation: a domain pair, or the text signal, and its share of the score."""

    model_config = examples(WORKED_EXAMPLE[0], WORKED_EXAMPLE[3])

    committee_domain: DomainName | None = Field(description="null on the `text` line.")
    organization_domain: DomainName | None = Field(description="null on the `text` line.")
    relation: Relation = Field(
        description="How the two domains relate; `text` is the bonus from the committee's scope "
        "and the organization's standardization needs sharing words."
    )
    share: float = Field(description="Points of the score this line earned, two decimals.")
    specificity: float = Field(
        description="What the domain pair earns, 0 to 1: 1 for the same domain, less the "
        "broader the ancestor the two share (docs/matching.md); on the `text` line, the overlap "
        "of the two texts."
    )
    words: list[str] = Field(
        description="On the `text` line, the words both texts use; empty on the others."
    )


class CommitteeSummary(BaseModel):
    model_config = examples(TC_299)

    id: uuid.UUID
    designation: str
    level: str
    name_zh: str
    name_en: str


class OrganizationSummary(BaseModel):
    model_config = examples(XIXI_LANSI)

    id: uuid.UUID
    kind: str
    name_zh: str
    name_en: str | None


class MatchOut(BaseModel):
    """A committee–organization pair's score and every line that earned it."""

    model_config = examples(
        {
            "committee": TC_299,
            "organization": XIXI_LANSI,
            "score": 66.69,
            "summary": SUMMARY_TC_299,
            "explanation": WORKED_EXAMPLE,
        }
    )

    committee: CommitteeSummary
    organization: OrganizationSummary
    score: float = Field(description="From 0 to 100, two decimals.")
    summary: Summary = Field(
        description="The explanation in sentences: what the two share, how specific that is, "
        "which domains were read from words, and what would raise the score."
    )
    explanation: list[Reason] = Field(
        description="Largest share first (the text line last among equals); the shares add up "
        "exactly to `score`. Empty when the score is 0."
    )


# The two stay whole: a shared base would put its fields before the party, and the party leads in
# the contract's documents.
class CommitteeRecommendation(BaseModel):
    committee: CommitteeSummary
    score: float = Field(description="From 0 to 100, two decimals.")
    summary: Summary = Field(description="The whole explanation in sentences.")
    reasons: list[Reason] = Field(description="The three largest lines of the explanation.")


class OrganizationRecommendation(BaseModel):
    organization: OrganizationSummary
    score: float = Field(description="From 0 to 100, two decimals.")
    summary: Summary = Field(description="The whole explanation in sentences.")
    reasons: list[Reason] = Field(description="The three largest lines of the explanation.")


_TOP_K = (
    "The best `limit` counterparts, best first; equal scores in the order of their ids. "
    "A top-k rather than a collection: there is no cursor, raise `limit` (up to 100) for more."
)


class CommitteeRecommendations(BaseModel):
    # GET /v1/organizations/{杭州西溪澜思…}/recommendations?limit=3 on the demo data.
    model_config = examples(
        {
            "items": [
                {
                    "committee": {**SC_42, "id": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"},
                    "score": 100.0,
                    "summary": SUMMARY_SC_42,
                    "reasons": [
                        _line(ARTIFICIAL_INTELLIGENCE, ARTIFICIAL_INTELLIGENCE, "exact", 66.96),
                        _line(EMBODIED_AI, EMBODIED_AI, "exact", 33.04),
                    ],
                },
                {
                    "committee": {**MIIT_TC1, "id": "2e4f6a8b-0c1d-4e3f-a5b7-c9d1e3f5a7b9"},
                    "score": 89.12,
                    "summary": {
                        "zh": "匹配分 89.12。双方都关注「"
                        "人工智能」、「具身智能」（该领域覆盖目录的约 "
                        "7%、5%）。双方的文字都提到：人工智能、服务、行业标准。若机构的业务也涉及"
                        "「智能制造」，分数会提高。",
                        "en": "Score 89.12. Both work in Artificial intelligence, Embodied AI "
                        "(covering about 7%, 5% of the directory). Both texts mention: 人工智能, "
                        "服务, 行业标准. The score would rise if the organization also worked in "
                        "Intelligent manufacturing.",
                    },
                    "reasons": [
                        _line(ARTIFICIAL_INTELLIGENCE, ARTIFICIAL_INTELLIGENCE, "exact", 55.56),
                        _line(EMBODIED_AI, EMBODIED_AI, "exact", 33.33),
                        _line(None, None, "text", 0.23, 0.23, ["人工智能", "服务", "行业标准"]),
                    ],
                },
                {
                    "committee": TC_299,
                    "score": 66.69,
                    "summary": SUMMARY_TC_299,
                    "reasons": WORKED_EXAMPLE[:3],
                },
            ]
        }
    )

    items: list[CommitteeRecommendation] = Field(description=_TOP_K)


class OrganizationRecommendations(BaseModel):
    # GET /v1/committees/{ISO/TC 299}/recommendations?limit=1 on the demo data.
    model_config = examples(
        {
            "items": [
                {
                    "organization": {
                        "id": "e4b48c90-473a-4015-9108-5c9c5d9fe3f8",
                        "kind": "institute",
                        "name_zh": "杭州钱塘具身智能研究院",
                        "name_en": "Hangzhou Qiantang Institute of Embodied Intelligence",
                    },
                    "score": 85.92,
                    "summary": {
                        "zh": "匹配分 85.92。双方都关注「"
                        "具身智能」、「机器人」（该领域覆盖目录的约 "
                        "5%、6%）。委员会的「具身智能」与机构的「人工智能」同属「人工智能」，这一"
                        "共同点很具体（按完全一致的 80% 计）。双方的文字都提到：机器人。若机构的"
                        "业务也涉及「智能制造」，分数会提高。",
                        "en": "Score 85.92. Both work in Embodied AI, Robotics (covering about "
                        "5%, 6% of the directory). The committee's Embodied AI and the "
                        "organization's Artificial intelligence meet in Artificial intelligence, "
                        "which is very specific (counted at 80% of an exact match). Both texts "
                        "mention: 机器人. The score would rise if the organization also worked in "
                        "Intelligent manufacturing.",
                    },
                    "reasons": [
                        _line(ROBOTICS, ROBOTICS, "exact", 38.90),
                        _line(EMBODIED_AI, EMBODIED_AI, "exact", 37.89),
                        _line(EMBODIED_AI, ARTIFICIAL_INTELLIGENCE, "parent_child", 9.05, 0.802),
                    ],
                }
            ]
        }
    )

    items: list[OrganizationRecommendation] = Field(description=_TOP_K)
