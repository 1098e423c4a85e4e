"""Profiles from their own words: inferred domains stored at write time, shown as inferred,
read again when the words change, and replaced by domains a person sets."""

import csv
import io

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Organization
from tests.support import Headers

PETS = "宠物食品、猫砂和宠物牵引用品的生产与销售"


async def create(client: httpx.AsyncClient, admin: Headers, **fields: object) -> dict[str, object]:
    body = {"kind": "enterprise", "name_zh": "温州测试有限公司", **fields}
    response = await client.post("/v1/organizations", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_needs_alone_give_pet_committees(client: httpx.AsyncClient, admin: Headers) -> None:
    organization = await create(client, admin, needs=PETS)
    assert organization["domains"] == []
    assert organization["inferred_domains"] == [
        {"domain": "pet_products", "confidence": 0.777, "inferred": True}
    ]
    response = await client.get(
        f"/v1/organizations/{organization['id']}/recommendations",
        params={"limit": 3},
        headers=admin,
    )
    items = response.json()["items"]
    assert items[0]["committee"]["designation"] == "SAC/TC 181"  # pet products, animal health
    top = items[0]["reasons"][0]
    assert top["organization_domain"]["code"] == "pet_products"
    assert top["organization_domain"]["inferred"] is True
    assert top["committee_domain"]["inferred"] is False
    assert "「宠物用品」是从其文字推断的" in items[0]["summary"]["zh"]
    assert "Pet products were read from its own words" in items[0]["summary"]["en"]


async def test_business_scope_is_read_too(client: httpx.AsyncClient, admin: Headers) -> None:
    organization = await create(client, admin, business_scope="不锈钢管、钢管的生产与销售")
    assert organization["business_scope"] == "不锈钢管、钢管的生产与销售"
    assert [d["domain"] for d in organization["inferred_domains"]] == ["steel"]


async def test_new_words_new_domains_and_a_person_has_the_last_word(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    organization = await create(client, admin, needs=PETS)
    url = f"/v1/organizations/{organization['id']}"
    read = await client.get(url, headers=admin)
    changed = await client.patch(
        url,
        json={"needs": "研发协作机器人，希望参与机器人安全标准"},
        headers={**admin, "If-Match": read.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert [d["domain"] for d in changed.json()["inferred_domains"]] == ["robotics"]
    chosen = await client.patch(
        url,
        json={"domains": [{"domain": "animal_health", "weight": 1}]},
        headers={**admin, "If-Match": changed.headers["etag"]},
    )
    assert chosen.json()["domains"] == [{"domain": "animal_health", "weight": 1.0}]
    assert chosen.json()["inferred_domains"] == []
    # Words changed while a person's choice stands: nothing is inferred over it.
    again = await client.patch(
        url, json={"needs": PETS}, headers={**admin, "If-Match": chosen.headers["etag"]}
    )
    assert again.json()["domains"] == [{"domain": "animal_health", "weight": 1.0}]
    assert again.json()["inferred_domains"] == []
    # The choice withdrawn: the words speak again.
    cleared = await client.patch(
        url, json={"domains": []}, headers={**admin, "If-Match": again.headers["etag"]}
    )
    assert [d["domain"] for d in cleared.json()["inferred_domains"]] == ["pet_products"]


async def test_committee_scope_is_read(client: httpx.AsyncClient, admin: Headers) -> None:
    body = {
        "designation": "ZJ/TC 99",
        "level": "provincial",
        "name_zh": "浙江省宠物用品标准化技术委员会",
        "name_en": "Zhejiang pet products TC",
        "scope": "负责宠物食品、宠物玩具等宠物用品的地方标准。",
    }
    response = await client.post("/v1/committees", json=body, headers=admin)
    assert response.status_code == 201, response.text
    assert [d["domain"] for d in response.json()["inferred_domains"]] == ["pet_products"]


async def test_import_reads_business_scope_and_export_keeps_only_chosen_domains(
    client: httpx.AsyncClient, admin: Headers, session: AsyncSession
) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(
        [
            ["kind", "name_zh", "business_scope"],
            ["enterprise", "平阳测试宠物食品有限公司", PETS],
        ]
    )
    imported = await client.post(
        "/v1/organizations:import",
        content=buffer.getvalue().encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    found = await client.get("/v1/organizations", params={"q": "平阳测试宠物"}, headers=admin)
    [organization] = found.json()["items"]
    assert organization["business_scope"] == PETS
    assert [d["domain"] for d in organization["inferred_domains"]] == ["pet_products"]
    exported = await client.get("/v1/organizations:export", params={"format": "csv"}, headers=admin)
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    [row] = [r for r in rows if r["name_zh"] == "平阳测试宠物食品有限公司"]
    assert row["business_scope"] == PETS
    # An inferred domain exported as chosen would stop following the words once imported back.
    assert row["domains"] == ""
    stored = await session.scalar(
        select(Organization.business_scope).where(
            Organization.name_zh == "平阳测试宠物食品有限公司"
        )
    )
    assert stored == PETS


async def test_migrate_reads_again_profiles_without_chosen_domains(session: AsyncSession) -> None:
    """Rows written before the reading existed (or before a taxonomy sync) get read at migrate."""
    from service.directory.service import refresh_inferred
    from service.directory.taxonomy import load_taxonomy

    taxonomy = await load_taxonomy(session)
    unread = Organization(kind="enterprise", name_zh="温州旧数据有限公司", needs=PETS, domains=[])
    session.add(unread)
    await session.flush()
    assert await refresh_inferred(session, taxonomy=taxonomy) == 1
    assert [(taxonomy.code_of(d.domain_id), d.inferred) for d in unread.domains] == [
        ("pet_products", True)
    ]
    # Nothing new to read, and the demo's chosen domains stay as they are.
    assert await refresh_inferred(session, taxonomy=taxonomy) == 0
