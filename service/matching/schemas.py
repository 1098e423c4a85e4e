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
) -> dict[str, Any]:
    return {
        "committee_domain": committee,
        "organization_domain": organization,
        "relation": relation,
        "share": share,
    }


WORKED_EXAMPLE: list[dict[str, Any]] = [
    _line(EMBODIED_AI, EMBODIED_AI, "exact", 35.84),
    _line(EMBODIED_AI, ARTIFICIAL_INTELLIGENCE, "parent_child", 14.60),
    _line(ROBOTICS, ARTIFICIAL_INTELLIGENCE, "sibling", 7.97),
    _line(None, None, "text", 0.37),
]


class DomainName(BaseModel):
    """A domain of the taxonomy with its names."""

    model_config = examples(EMBODIED_AI)

    code: str
    name_en: str
    name_zh_hans: str
    name_zh_hant: str


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
            "score": 58.78,
            "explanation": WORKED_EXAMPLE,
        }
    )

    committee: CommitteeSummary
    organization: OrganizationSummary
    score: float = Field(description="From 0 to 100, two decimals.")
    explanation: list[Reason] = Field(
        description="Largest share first (the text line last among equals); the shares add up "
        "exactly to `score`. Empty when the score is 0."
    )


class CommitteeRecommendation(BaseModel):
    committee: CommitteeSummary
    score: float = Field(description="From 0 to 100, two decimals.")
    reasons: list[Reason] = Field(description="The three largest lines of the explanation.")


class OrganizationRecommendation(BaseModel):
    organization: OrganizationSummary
    score: float = Field(description="From 0 to 100, two decimals.")
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
                    "reasons": [
                        _line(ARTIFICIAL_INTELLIGENCE, ARTIFICIAL_INTELLIGENCE, "exact", 66.96),
                        _line(EMBODIED_AI, EMBODIED_AI, "exact", 33.04),
                    ],
                },
                {
                    "committee": {**MIIT_TC1, "id": "2e4f6a8b-0c1d-4e3f-a5b7-c9d1e3f5a7b9"},
                    "score": 89.12,
                    "reasons": [
                        _line(ARTIFICIAL_INTELLIGENCE, ARTIFICIAL_INTELLIGENCE, "exact", 55.56),
                        _line(EMBODIED_AI, EMBODIED_AI, "exact", 33.33),
                        _line(None, None, "text", 0.23),
                    ],
                },
                {"committee": TC_299, "score": 58.78, "reasons": WORKED_EXAMPLE[:3]},
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
                        "kind": "enterprise",
                        "name_zh": "温州瓯海机器人科技有限公司",
                        "name_en": "Wenzhou Ouhai Robotics Technology Co., Ltd.",
                    },
                    "score": 84.51,
                    "reasons": [
                        _line(ROBOTICS, ROBOTICS, "exact", 44.39),
                        _line(EMBODIED_AI, EMBODIED_AI, "exact", 33.41),
                        _line(ROBOTICS, HUMANOID_ROBOTS, "parent_child", 6.31),
                    ],
                }
            ]
        }
    )

    items: list[OrganizationRecommendation] = Field(description=_TOP_K)
