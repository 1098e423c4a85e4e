"""Match scores over HTTP: a pair explained, recommendations both ways, filters and errors."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from service.app import create_app
from service.config import Settings
from tests.support import Headers, KeyFactory, random_id

PROBLEM = "application/problem+json"
XIXI_LANSI = "杭州西溪澜思人工智能科技有限公司"

EMBODIED_AI = {
    "code": "embodied_ai",
    "name_en": "Embodied AI",
    "name_zh_hans": "具身智能",
    "name_zh_hant": "具身智能",
    "inferred": False,
}
ARTIFICIAL_INTELLIGENCE = {
    "code": "artificial_intelligence",
    "name_en": "Artificial intelligence",
    "name_zh_hans": "人工智能",
    "name_zh_hant": "人工智能",
    "inferred": False,
}
ROBOTICS = {
    "code": "robotics",
    "name_en": "Robotics",
    "name_zh_hans": "机器人",
    "name_zh_hant": "機器人",
    "inferred": False,
}


async def committee_id(client: httpx.AsyncClient, headers: Headers, designation: str) -> str:
    found = await client.get("/v1/committees", params={"q": designation}, headers=headers)
    [committee] = [c for c in found.json()["items"] if c["designation"] == designation]
    return str(committee["id"])


async def organization_id(client: httpx.AsyncClient, headers: Headers, name_zh: str) -> str:
    found = await client.get("/v1/organizations", params={"q": name_zh}, headers=headers)
    [organization] = [o for o in found.json()["items"] if o["name_zh"] == name_zh]
    return str(organization["id"])


async def committees_for(
    client: httpx.AsyncClient, headers: Headers, organization: str, **params: Any
) -> httpx.Response:
    return await client.get(
        f"/v1/organizations/{organization}/recommendations", params=params, headers=headers
    )


async def organizations_for(
    client: httpx.AsyncClient, headers: Headers, committee: str, **params: Any
) -> httpx.Response:
    return await client.get(
        f"/v1/committees/{committee}/recommendations", params=params, headers=headers
    )


def total(lines: list[dict[str, Any]]) -> float:
    """Shares add up in hundredths, exactly: no float drift decides the test."""
    return sum(round(float(line["share"]) * 100) for line in lines) / 100


async def test_the_worked_example_through_the_api(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    committee = await committee_id(client, admin, "ISO/TC 299")
    organization = await organization_id(client, admin, XIXI_LANSI)
    response = await client.get(
        "/v1/matches",
        params={"committee_id": committee, "organization_id": organization},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    match = response.json()
    assert match["committee"] == {
        "id": committee,
        "designation": "ISO/TC 299",
        "level": "international",
        "name_zh": "机器人",
        "name_en": "Robotics",
    }
    assert match["organization"]["id"] == organization
    assert match["organization"]["name_zh"] == XIXI_LANSI
    assert match["organization"]["kind"] == "enterprise"
    assert match["score"] == 66.69
    assert match["explanation"] == [
        {
            "committee_domain": EMBODIED_AI,
            "organization_domain": EMBODIED_AI,
            "relation": "exact",
            "share": 35.81,
            "specificity": 1.0,
            "words": [],
        },
        {
            "committee_domain": EMBODIED_AI,
            "organization_domain": ARTIFICIAL_INTELLIGENCE,
            "relation": "parent_child",
            "share": 18.98,
            "specificity": 0.802,
            "words": [],
        },
        {
            "committee_domain": ROBOTICS,
            "organization_domain": ARTIFICIAL_INTELLIGENCE,
            "relation": "sibling",
            "share": 11.56,
            "specificity": 0.428,
            "words": [],
        },
        {
            "committee_domain": None,
            "organization_domain": None,
            "relation": "text",
            "share": 0.34,
            "specificity": 0.153,
            "words": ["工业", "服务"],
        },
    ]
    summary = match["summary"]
    assert summary["zh"].startswith("匹配分 66.69。双方都关注「具身智能」")
    assert "同属「人工智能」，这一共同点很具体（按完全一致的 80% 计）" in summary["zh"]
    assert "双方的文字都提到：工业、服务。" in summary["zh"]
    assert "若机构的业务也涉及「机器人」，分数会提高。" in summary["zh"]
    assert summary["en"].startswith("Score 66.69. Both work in Embodied AI")
    assert "meet in Future industries, which is rather broad (counted at 43%" in summary["en"]
    assert "The score would rise if the organization also worked in Robotics." in summary["en"]
    assert total(match["explanation"]) == match["score"]


async def test_the_worked_example_is_the_third_recommendation(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    organization = await organization_id(client, admin, XIXI_LANSI)
    response = await committees_for(client, admin, organization, limit=3)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["committee"]["designation"], i["score"]) for i in items] == [
        ("ISO/IEC JTC 1/SC 42", 100.0),
        ("MIIT/TC1", 89.12),
        ("ISO/TC 299", 66.69),
    ]
    assert [r["share"] for r in items[2]["reasons"]] == [35.81, 18.98, 11.56]
    assert set(items[0]["committee"]) == {"id", "designation", "level", "name_zh", "name_en"}


async def test_unrelated_pair_scores_zero_with_nothing_to_explain(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    committee = await committee_id(client, admin, "SAC/TC 181")  # animal health
    organization = await organization_id(client, admin, XIXI_LANSI)
    match = (
        await client.get(
            "/v1/matches",
            params={"committee_id": committee, "organization_id": organization},
            headers=admin,
        )
    ).json()
    assert (match["score"], match["explanation"]) == (0.0, [])
    listed = (await committees_for(client, admin, organization, limit=100)).json()["items"]
    assert committee not in {i["committee"]["id"] for i in listed}


async def test_every_recommendation_agrees_with_its_pair_explanation(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    committee = await committee_id(client, admin, "ISO/TC 299")
    items = (await organizations_for(client, admin, committee, limit=100)).json()["items"]
    assert len(items) > 10
    for item in items:
        assert item["score"] > 0
        match = (
            await client.get(
                "/v1/matches",
                params={"committee_id": committee, "organization_id": item["organization"]["id"]},
                headers=admin,
            )
        ).json()
        assert match["score"] == item["score"]
        assert total(match["explanation"]) == match["score"]
        assert item["reasons"] == match["explanation"][:3]
        assert item["organization"] == match["organization"]


async def test_a_party_without_domains_or_words_gets_an_answer_its_pairs_agree_with(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    # Read with the directory's counts in one statement: a party with no link is one row of
    # NULL links there, not a missing party.
    body = {"kind": "enterprise", "name_zh": "温州空白测试有限公司"}
    created = await client.post("/v1/organizations", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["domains"] == [] and created.json()["inferred_domains"] == []
    organization = created.json()["id"]
    answer = await committees_for(client, admin, organization, limit=100, min_score=0)
    assert answer.status_code == 200, answer.text
    for item in answer.json()["items"]:
        match = await client.get(
            "/v1/matches",
            params={"committee_id": item["committee"]["id"], "organization_id": organization},
            headers=admin,
        )
        assert match.json()["score"] == item["score"] == 0, item


async def test_best_first_and_equal_scores_in_id_order(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    twins = []
    for n in range(3):
        created = await client.post(
            "/v1/committees",
            json={
                "designation": f"TEST/TC {n}",
                "level": "provincial",
                "name_zh": f"测试委员会{n}",
                "name_en": f"Test committee {n}",
                "scope": "人工智能",
                "domains": [
                    {"domain": "artificial_intelligence", "weight": 1.0},
                    {"domain": "robotics", "weight": 0.5},
                ],
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        twins.append(created.json()["id"])
    organization = await organization_id(client, admin, XIXI_LANSI)
    items = (await committees_for(client, admin, organization, limit=100)).json()["items"]
    keys = [(-i["score"], i["committee"]["id"]) for i in items]
    assert keys == sorted(keys)
    tied = [i for i in items if i["committee"]["id"] in twins]
    assert [i["committee"]["id"] for i in tied] == sorted(twins)
    assert len({i["score"] for i in tied}) == 1
    # Adjacent: nothing else scored the same and sorted between them.
    positions = [n for n, i in enumerate(items) if i["committee"]["id"] in twins]
    assert positions == list(range(positions[0], positions[0] + 3))


async def test_limit_and_min_score_cut_the_same_ranking(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    committee = await committee_id(client, admin, "ISO/TC 299")
    everything = (await organizations_for(client, admin, committee, limit=100)).json()["items"]
    default = (await organizations_for(client, admin, committee)).json()["items"]
    assert default == everything[:10]
    two = (await organizations_for(client, admin, committee, limit=2)).json()["items"]
    assert two == everything[:2]
    high = (await organizations_for(client, admin, committee, min_score=66.69)).json()["items"]
    assert high == [i for i in everything if i["score"] >= 66.69]
    assert high[-1]["organization"]["name_zh"] == XIXI_LANSI
    above = (await organizations_for(client, admin, committee, min_score=66.70)).json()["items"]
    assert above == high[:-1]
    nothing = (await organizations_for(client, admin, committee, min_score=100)).json()["items"]
    assert nothing == []


@pytest.mark.parametrize("code", ["future_industries", "embodied_ai", "social_governance"])
async def test_domain_filter_keeps_counterparts_in_the_subtree(
    client: httpx.AsyncClient, admin: Headers, code: str
) -> None:
    organization = await organization_id(client, admin, XIXI_LANSI)
    everything = (await committees_for(client, admin, organization, limit=100)).json()["items"]
    filtered = await committees_for(client, admin, organization, limit=100, domain=code)
    assert filtered.status_code == 200, filtered.text
    # The directory's own domain filter says which committees list the domain or a descendant.
    listed = await client.get(
        "/v1/committees", params={"domain": code, "limit": 500}, headers=admin
    )
    in_subtree = {c["id"] for c in listed.json()["items"]}
    expected = [i for i in everything if i["committee"]["id"] in in_subtree]
    assert filtered.json()["items"] == expected
    if code == "social_governance":
        assert expected == []
    else:
        assert expected


async def test_domain_filter_on_organizations(client: httpx.AsyncClient, admin: Headers) -> None:
    committee = await committee_id(client, admin, "ISO/TC 299")
    filtered = await organizations_for(client, admin, committee, domain="humanoid_robots")
    assert filtered.status_code == 200
    names = [i["organization"]["name_zh"] for i in filtered.json()["items"]]
    assert names and XIXI_LANSI not in names
    for item in filtered.json()["items"]:
        read = await client.get(f"/v1/organizations/{item['organization']['id']}", headers=admin)
        assert "humanoid_robots" in {d["domain"] for d in read.json()["domains"]}


async def test_a_profile_change_shows_in_the_next_answer(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    organization = await organization_id(client, admin, XIXI_LANSI)
    committee = await committee_id(client, admin, "SAC/TC 181")
    before = (await committees_for(client, admin, organization, limit=1)).json()["items"]
    assert before[0]["committee"]["designation"] == "ISO/IEC JTC 1/SC 42"

    url = f"/v1/organizations/{organization}"
    read = await client.get(url, headers=admin)
    patched = await client.patch(
        url,
        json={"domains": [{"domain": "animal_health", "weight": 1.0}]},
        headers={**admin, "If-Match": read.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text

    after = (await committees_for(client, admin, organization, limit=1)).json()["items"]
    assert after[0]["committee"]["id"] == committee
    assert after[0]["reasons"][0]["relation"] == "exact"
    assert after[0]["reasons"][0]["organization_domain"]["code"] == "animal_health"
    match = await client.get(
        "/v1/matches",
        params={"committee_id": committee, "organization_id": organization},
        headers=admin,
    )
    assert match.json()["score"] == after[0]["score"] > 0
    # And the other way round: the committee's own recommendations now include it.
    reverse = (await organizations_for(client, admin, committee, limit=100)).json()["items"]
    assert organization in {i["organization"]["id"] for i in reverse}


async def test_a_second_app_instance_gives_identical_answers(
    client: httpx.AsyncClient, admin: Headers, settings: Settings, connection: AsyncConnection
) -> None:
    other = create_app(Settings(database_url=settings.database_url), bind=connection)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as second:
            for designation in ("ISO/TC 299", "IEC TC 111", "ISO/TC 17"):
                committee = await committee_id(client, admin, designation)
                ours = await organizations_for(client, admin, committee, limit=100)
                theirs = await organizations_for(second, admin, committee, limit=100)
                assert ours.status_code == theirs.status_code == 200
                assert ours.json() == theirs.json()
                assert ours.json()["items"]
            organization = await organization_id(client, admin, XIXI_LANSI)
            ours = await committees_for(client, admin, organization, limit=100)
            theirs = await committees_for(second, admin, organization, limit=100)
            assert ours.json() == theirs.json()


async def test_the_weights_are_configuration(
    admin: Headers, settings: Settings, connection: AsyncConnection, client: httpx.AsyncClient
) -> None:
    committee = await committee_id(client, admin, "ISO/TC 299")
    organization = await organization_id(client, admin, XIXI_LANSI)
    params = {"committee_id": committee, "organization_id": organization}
    no_text = Settings(database_url=settings.database_url, match_weight_text=0.0)
    app: FastAPI = create_app(no_text, bind=connection)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as textless:
            match = (await textless.get("/v1/matches", params=params, headers=admin)).json()
    assert match["score"] == 66.35
    assert "text" not in {line["relation"] for line in match["explanation"]}
    assert total(match["explanation"]) == 66.35


async def test_unknown_ids_are_404_problems(client: httpx.AsyncClient, admin: Headers) -> None:
    committee = await committee_id(client, admin, "ISO/TC 299")
    organization = await organization_id(client, admin, XIXI_LANSI)
    missing = random_id()
    for url, params in (
        ("/v1/matches", {"committee_id": missing, "organization_id": organization}),
        ("/v1/matches", {"committee_id": committee, "organization_id": missing}),
        (f"/v1/organizations/{missing}/recommendations", {}),
        (f"/v1/committees/{missing}/recommendations", {}),
        (f"/v1/committees/{missing}/recommendations", {"domain": "robotics"}),
    ):
        response = await client.get(url, params=params, headers=admin)
        assert response.status_code == 404, (url, params, response.text)
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["code"] == "not_found"
        assert missing in problem["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_score": 101}, "min_score"),
        ({"min_score": -1}, "min_score"),
        ({"min_score": "nan"}, "min_score"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
    ],
)
async def test_bad_recommendation_parameters_are_422_problems(
    client: httpx.AsyncClient, admin: Headers, params: dict[str, Any], field: str
) -> None:
    organization = await organization_id(client, admin, XIXI_LANSI)
    committee = await committee_id(client, admin, "ISO/TC 299")
    for response in (
        await committees_for(client, admin, organization, **params),
        await organizations_for(client, admin, committee, **params),
    ):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["code"] == "validation_failed"
        assert [e["field"] for e in problem["errors"]] == [field]


async def test_unknown_domain_filter_is_422_unknown_domain(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    organization = await organization_id(client, admin, XIXI_LANSI)
    committee = await committee_id(client, admin, "ISO/TC 299")
    for response in (
        await committees_for(client, admin, organization, domain="astrology"),
        await organizations_for(client, admin, committee, domain="astrology"),
        # The filter is refused before the party is looked for, as it always was.
        await committees_for(client, admin, random_id(), domain="astrology"),
    ):
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["code"] == "unknown_domain"
        assert problem["errors"] == [{"field": "domain", "message": "unknown domain 'astrology'"}]


async def test_malformed_and_missing_ids_are_422_problems(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    organization = await organization_id(client, admin, XIXI_LANSI)
    for url, params, fields in (
        ("/v1/organizations/not-a-uuid/recommendations", {}, ["organization_id"]),
        ("/v1/committees/12345/recommendations", {}, ["committee_id"]),
        ("/v1/matches", {"committee_id": "x", "organization_id": organization}, ["committee_id"]),
        ("/v1/matches", {"organization_id": organization}, ["committee_id"]),
        ("/v1/matches", {}, ["committee_id", "organization_id"]),
    ):
        response = await client.get(url, params=params, headers=admin)
        assert response.status_code == 422, (url, response.text)
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["code"] == "validation_failed"
        assert sorted(e["field"] for e in problem["errors"]) == fields


async def test_partners_may_ask_and_kiosks_may_not(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    organization = await organization_id(client, admin, XIXI_LANSI)
    committee = await committee_id(client, admin, "ISO/TC 299")
    # Directory data is readable by every partner: a key for another party sees the same answer.
    partner = await make_key(
        "partner", committee_id=await committee_id(client, admin, "IEC TC 111")
    )
    kiosk = await make_key("kiosk")
    urls = [
        f"/v1/organizations/{organization}/recommendations",
        f"/v1/committees/{committee}/recommendations",
        f"/v1/matches?committee_id={committee}&organization_id={organization}",
    ]
    for url in urls:
        as_admin = await client.get(url, headers=admin)
        as_partner = await client.get(url, headers=partner)
        assert as_partner.status_code == 200
        assert as_partner.json() == as_admin.json()
        as_kiosk = await client.get(url, headers=kiosk)
        assert as_kiosk.status_code == 403
        assert as_kiosk.json()["code"] == "forbidden"
