"""The directory over HTTP: create, read, update, delete, list, search, errors."""

import httpx

from tests.support import Headers, KeyFactory, random_id

PROBLEM = "application/problem+json"


def committee_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "designation": "ISO/TC 999",
        "level": "international",
        "name_zh": "测试委员会",
        "name_en": "Test committee",
        "scope": "测试",
        "contact": {"name": "王小明", "email": "wang@example.org", "phone": "+86 577 5555 0001"},
        "domains": [{"domain": "iot", "weight": 1.0}],
    }
    body.update(overrides)
    return body


async def test_create_read_update_delete_committee(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    created = await client.post("/v1/committees", json=committee_body(), headers=admin)
    assert created.status_code == 201, created.text
    committee = created.json()
    assert created.headers["location"] == f"/v1/committees/{committee['id']}"
    assert committee["designation"] == "ISO/TC 999"
    assert committee["domains"] == [{"domain": "iot", "weight": 1.0}]
    assert created.headers["etag"] == '"1"'

    read = await client.get(f"/v1/committees/{committee['id']}", headers=admin)
    assert read.json() == committee

    patched = await client.patch(
        f"/v1/committees/{committee['id']}",
        json={
            "name_en": "Renamed",
            "domains": [{"domain": "artificial_intelligence", "weight": 0.5}],
        },
        headers={**admin, "If-Match": read.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name_en"] == "Renamed"
    assert patched.json()["name_zh"] == "测试委员会"  # not sent, not changed
    assert patched.json()["domains"] == [{"domain": "artificial_intelligence", "weight": 0.5}]
    assert patched.headers["etag"] == '"2"'

    deleted = await client.delete(
        f"/v1/committees/{committee['id']}", headers={**admin, "If-Match": patched.headers["etag"]}
    )
    assert deleted.status_code == 204
    gone = await client.get(f"/v1/committees/{committee['id']}", headers=admin)
    assert gone.status_code == 404
    assert gone.headers["content-type"] == PROBLEM
    assert gone.json()["code"] == "not_found"


async def test_patch_of_domains_alone_moves_the_etag(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    committee = (await client.post("/v1/committees", json=committee_body(), headers=admin)).json()
    patched = await client.patch(
        f"/v1/committees/{committee['id']}",
        json={"domains": [{"domain": "iot", "weight": 0.4}]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert patched.headers["etag"] == '"2"'


async def test_second_writer_with_stale_etag_gets_412_and_nothing_is_lost(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    committee = (await client.post("/v1/committees", json=committee_body(), headers=admin)).json()
    url = f"/v1/committees/{committee['id']}"
    first_read = await client.get(url, headers=admin)
    second_read = await client.get(url, headers=admin)
    first = await client.patch(
        url,
        json={"scope": "first writer"},
        headers={**admin, "If-Match": first_read.headers["etag"]},
    )
    assert first.status_code == 200
    second = await client.patch(
        url,
        json={"name_en": "second writer"},
        headers={**admin, "If-Match": second_read.headers["etag"]},
    )
    assert second.status_code == 412
    assert second.json()["code"] == "precondition_failed"
    final = (await client.get(url, headers=admin)).json()
    assert final["scope"] == "first writer"
    assert final["name_en"] == "Test committee"


async def test_write_without_if_match_is_428(client: httpx.AsyncClient, admin: Headers) -> None:
    committee = (await client.post("/v1/committees", json=committee_body(), headers=admin)).json()
    url = f"/v1/committees/{committee['id']}"
    patched = await client.patch(url, json={"scope": "x"}, headers=admin)
    assert patched.status_code == 428
    assert patched.json()["code"] == "precondition_required"
    deleted = await client.delete(url, headers=admin)
    assert deleted.status_code == 428
    assert (await client.get(url, headers=admin)).json()["scope"] == "测试"


async def test_null_clears_optional_fields_but_not_required_ones(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    committee = (
        await client.post("/v1/committees", json=committee_body(secretariat="SAC"), headers=admin)
    ).json()
    url = f"/v1/committees/{committee['id']}"
    cleared = await client.patch(
        url, json={"secretariat": None}, headers={**admin, "If-Match": '"1"'}
    )
    assert cleared.json()["secretariat"] is None
    refused = await client.patch(url, json={"name_zh": None}, headers={**admin, "If-Match": '"2"'})
    assert refused.status_code == 422
    assert "name_zh cannot be null" in refused.json()["detail"]


async def test_designation_is_unique(client: httpx.AsyncClient, admin: Headers) -> None:
    taken = await client.post(
        "/v1/committees", json=committee_body(designation="IEC TC 111"), headers=admin
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "designation_taken"
    assert "IEC TC 111" in taken.json()["detail"]


async def test_bad_committee_input_is_422_naming_each_field(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    response = await client.post(
        "/v1/committees",
        json=committee_body(level="galactic", domains=[{"domain": "iot", "weight": 1.5}]),
        headers=admin,
    )
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == PROBLEM
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"level", "domains[0].weight"}


async def test_unknown_domain_is_422(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.post(
        "/v1/committees",
        json=committee_body(domains=[{"domain": "astrology", "weight": 1}]),
        headers=admin,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_domain"
    assert response.json()["errors"] == [
        {"field": "domains[0].domain", "message": "unknown domain 'astrology'"}
    ]
    listed = await client.get("/v1/committees", params={"q": "测试委员会"}, headers=admin)
    assert listed.json()["items"] == []


async def test_duplicate_domain_in_one_profile_is_refused(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    response = await client.post(
        "/v1/committees",
        json=committee_body(
            domains=[{"domain": "iot", "weight": 1}, {"domain": "iot", "weight": 0.5}]
        ),
        headers=admin,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "domains"


async def test_organization_credit_code_is_validated_and_normalized(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    base = {
        "kind": "enterprise",
        "name_zh": "温州测试电器有限公司",
        "domains": [{"domain": "iot", "weight": 1}],
    }
    bad = await client.post(
        "/v1/organizations", json={**base, "credit_code": "91330300MA2CXXXXX1"}, headers=admin
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "credit_code"
    assert "GB 32100" in bad.json()["errors"][0]["message"]
    good = await client.post(
        "/v1/organizations", json={**base, "credit_code": " 91310115591693856a "}, headers=admin
    )
    assert good.status_code == 201, good.text
    assert good.json()["credit_code"] == "91310115591693856A"
    again = await client.post(
        "/v1/organizations", json={**base, "credit_code": "91310115591693856A"}, headers=admin
    )
    assert again.status_code == 409
    assert again.json()["code"] == "credit_code_taken"


async def test_search_folds_simplified_and_traditional(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    simplified = await client.get(
        "/v1/organizations", params={"q": "温州", "limit": 500}, headers=admin
    )
    traditional = await client.get(
        "/v1/organizations", params={"q": "溫州", "limit": 500}, headers=admin
    )
    names = [o["name_zh"] for o in simplified.json()["items"]]
    assert len(names) >= 10
    assert names == [o["name_zh"] for o in traditional.json()["items"]]
    # A name stored in traditional characters is found by simplified input too.
    assert "溫州鹿城數字貿易服務有限公司" in names


async def test_search_finds_pinyin_and_initials_in_every_field(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    async def names(path: str, q: str) -> set[str]:
        page = await client.get(path, params={"q": q, "limit": 500}, headers=admin)
        assert page.status_code == 200, page.text
        return {item["name_zh"] for item in page.json()["items"]}

    # Two demo organizations are in Wenzhou by their region only, not by their names.
    by_region = {"平阳县鳌江宠物用品产业协会", "永嘉瓯北泵阀科技有限公司"}
    in_hanzi = await names("/v1/organizations", "温州")
    assert by_region <= in_hanzi
    assert await names("/v1/organizations", "wenzhou") == in_hanzi
    assert await names("/v1/organizations", "WenZhou") == in_hanzi
    assert by_region <= await names("/v1/organizations", "wz")
    assert "永嘉瓯北泵阀科技有限公司" in await names("/v1/organizations", "bengfa")
    # Committees: their Chinese names by pinyin and initials too.
    robots = await names("/v1/committees", "jiqiren")
    assert {"机器人", "全国机器人标准化技术委员会"} <= robots
    assert robots <= await names("/v1/committees", "jqr")
    assert await names("/v1/committees", "no-such-pinyin-xq") == set()


async def test_search_finds_committee_by_designation_and_english(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    by_designation = await client.get("/v1/committees", params={"q": "tc 111"}, headers=admin)
    assert [c["designation"] for c in by_designation.json()["items"]] == ["IEC TC 111"]
    by_english = await client.get("/v1/committees", params={"q": "ROBOT"}, headers=admin)
    assert {c["designation"] for c in by_english.json()["items"]} >= {"ISO/TC 299"}


async def test_search_wildcards_are_literal(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.get("/v1/organizations", params={"q": "%"}, headers=admin)
    assert response.json()["items"] == []


async def test_domain_filter_includes_children(client: httpx.AsyncClient, admin: Headers) -> None:
    parent = await client.get(
        "/v1/committees", params={"domain": "green_low_carbon", "limit": 500}, headers=admin
    )
    child = await client.get(
        "/v1/committees", params={"domain": "carbon_footprint", "limit": 500}, headers=admin
    )
    parent_ids = {c["id"] for c in parent.json()["items"]}
    child_ids = {c["id"] for c in child.json()["items"]}
    assert child_ids and child_ids <= parent_ids
    assert len(parent_ids) > len(child_ids)
    for c in child.json()["items"]:
        assert "carbon_footprint" in {d["domain"] for d in c["domains"]}


async def test_filters_by_kind_level_and_region(client: httpx.AsyncClient, admin: Headers) -> None:
    institutes = (
        await client.get("/v1/organizations", params={"kind": "institute"}, headers=admin)
    ).json()
    assert institutes["items"] and {o["kind"] for o in institutes["items"]} == {"institute"}
    national = (
        await client.get("/v1/committees", params={"level": "national"}, headers=admin)
    ).json()
    assert national["items"] and {c["level"] for c in national["items"]} == {"national"}
    beijing = (
        await client.get("/v1/organizations", params={"region": "北京"}, headers=admin)
    ).json()
    assert [o["name_zh"] for o in beijing["items"]] == ["冶金工业信息标准研究院"]


async def test_unknown_domain_filter_is_422(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.get("/v1/committees", params={"domain": "astrology"}, headers=admin)
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_domain"


async def test_pages_cover_everything_once_in_stable_order(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/organizations", params=params, headers=admin)).json()
        seen.extend(o["id"] for o in page["items"])
        # A record created while paging lands at the end and is never seen twice.
        if len(seen) == 10:
            await client.post(
                "/v1/organizations",
                json={"kind": "enterprise", "name_zh": "分页时新建的企业"},
                headers=admin,
            )
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 36


async def test_limit_bounds_and_bad_cursor(client: httpx.AsyncClient, admin: Headers) -> None:
    too_many = await client.get("/v1/committees", params={"limit": 501}, headers=admin)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "limit"
    default = (await client.get("/v1/organizations", headers=admin)).json()
    assert len(default["items"]) == 35 and default["next_cursor"] is None
    bad = await client.get("/v1/committees", params={"cursor": "not-a-cursor"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_cursor"


async def test_domains_are_bilingual_and_hierarchical(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    domains = {d["code"]: d for d in (await client.get("/v1/domains", headers=admin)).json()}
    assert domains["iot"]["name_zh_hans"] == "物联网"
    assert domains["iot"]["name_zh_hant"] == "物聯網"
    assert "Internet of Things" in domains["iot"]["synonyms"]
    assert domains["embodied_ai"]["parent"] == "artificial_intelligence"
    assert domains["carbon_footprint"]["parent"] == "green_low_carbon"
    for required in (
        "intelligent_manufacturing",
        "digital_trade",
        "service_trade",
        "bulk_commodity_storage_transport",
        "ee_product_environment",
        "pet_products",
    ):
        assert required in domains
    roots = {code for code, d in domains.items() if d["parent"] is None}
    assert len(roots) == 5


async def test_unknown_id_and_malformed_id(client: httpx.AsyncClient, admin: Headers) -> None:
    missing = await client.get(f"/v1/organizations/{random_id()}", headers=admin)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    malformed = await client.get("/v1/organizations/not-a-uuid", headers=admin)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "organization_id"


async def test_unknown_path_and_wrong_method_are_problems(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    missing = await client.get("/v1/nothing-here", headers=admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    wrong = await client.put("/v1/committees", json={}, headers=admin)
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


async def test_bad_bodies_are_4xx_and_write_nothing(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    json_headers = {**admin, "Content-Type": "application/json"}
    not_utf8 = await client.post(
        "/v1/committees", content=b'{"designation": "\xff\xfe"}', headers=json_headers
    )
    assert 400 <= not_utf8.status_code < 500
    assert not_utf8.headers["content-type"] == PROBLEM
    not_json = await client.post("/v1/committees", content=b"{designation", headers=json_headers)
    assert not_json.status_code == 422
    wrong_type = await client.post(
        "/v1/committees", content=b"designation=x", headers={**admin, "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    assert wrong_type.json()["code"] == "unsupported_media_type"
    huge = await client.post(
        "/v1/committees", json=committee_body(scope="长" * 600_000), headers=admin
    )
    assert huge.status_code == 413
    assert huge.json()["code"] == "payload_too_large"
    wrong_types = await client.post(
        "/v1/committees", json=committee_body(designation=12, domains="iot"), headers=admin
    )
    assert wrong_types.status_code == 422
    control = await client.post(
        "/v1/committees", json=committee_body(name_zh="坏\x00名"), headers=admin
    )
    assert control.status_code == 422
    listed = await client.get("/v1/committees", params={"limit": 500}, headers=admin)
    assert len(listed.json()["items"]) == 22


async def test_unknown_fields_are_refused(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.post("/v1/committees", json=committee_body(colour="red"), headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "colour"


async def test_contact_details_only_for_admin_and_own_party(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    committees = (await client.get("/v1/committees", params={"limit": 2}, headers=admin)).json()[
        "items"
    ]
    own, other = committees
    own_key = await make_key("partner", committee_id=own["id"])
    seen_by_self = (await client.get(f"/v1/committees/{own['id']}", headers=own_key)).json()
    assert seen_by_self["contact"]["email"] and seen_by_self["contact"]["phone"]
    seen_by_other = (await client.get(f"/v1/committees/{other['id']}", headers=own_key)).json()
    assert seen_by_other["contact"]["name"]
    assert seen_by_other["contact"]["email"] is None and seen_by_other["contact"]["phone"] is None
    listed = (await client.get("/v1/committees", params={"limit": 500}, headers=own_key)).json()[
        "items"
    ]
    assert [c["contact"]["email"] is not None for c in listed].count(True) == 1


async def test_two_writers_racing_with_the_same_etag_one_wins_one_gets_412(
    committed_client: httpx.AsyncClient, committed_key: KeyFactory
) -> None:
    import asyncio

    admin = await committed_key("admin")
    created = await committed_client.post(
        "/v1/committees", json=committee_body(designation="ZJ/TC RACE"), headers=admin
    )
    url = f"/v1/committees/{created.json()['id']}"
    racing = await asyncio.gather(
        *[
            committed_client.patch(
                url, json={"scope": f"writer {i}"}, headers={**admin, "If-Match": '"1"'}
            )
            for i in range(4)
        ]
    )
    statuses = sorted(r.status_code for r in racing)
    assert statuses == [200, 412, 412, 412], statuses
    winner = next(r for r in racing if r.status_code == 200).json()["scope"]
    assert (await committed_client.get(url, headers=admin)).json()["scope"] == winner
    await committed_client.delete(url, headers={**admin, "If-Match": '"2"'})
