"""API keys over HTTP and the rules they carry: roles, own profile, revocation."""

import httpx
from fastapi import FastAPI

from tests.support import Headers, KeyFactory, Workers


async def test_admin_creates_lists_and_revokes_keys(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    created = await client.post(
        "/v1/api-keys", json={"name": "Hall A kiosk", "role": "kiosk"}, headers=admin
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["secret"].startswith("smk_") and key["prefix"] == key["secret"][:8]
    assert created.headers["location"] == f"/v1/api-keys/{key['id']}"
    kiosk = {"Authorization": f"Bearer {key['secret']}"}
    assert (await client.get("/v1/committees", headers=kiosk)).status_code == 403

    listed = (await client.get("/v1/api-keys", params={"limit": 500}, headers=admin)).json()[
        "items"
    ]
    assert key["id"] in {k["id"] for k in listed}
    assert all("secret" not in k for k in listed)
    one = (await client.get(f"/v1/api-keys/{key['id']}", headers=admin)).json()
    assert "secret" not in one and one["revoked_at"] is None

    revoked = await client.delete(f"/v1/api-keys/{key['id']}", headers=admin)
    assert revoked.status_code == 204
    refused = await client.get("/healthz", headers=kiosk)
    assert refused.status_code == 200  # public stays public
    after = await client.post("/v1/api-keys", json={"name": "x", "role": "kiosk"}, headers=kiosk)
    assert after.status_code == 401
    assert (await client.get(f"/v1/api-keys/{key['id']}", headers=admin)).json()["revoked_at"]


async def test_a_revoked_key_without_a_rate_limit_is_refused_at_once(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    # Admin keys have no rate limit, so their revocation is read on its own, not with the count.
    other = await make_key("admin")
    assert (await client.get("/v1/api-keys", headers=other)).status_code == 200
    keys = (await client.get("/v1/api-keys", params={"limit": 500}, headers=admin)).json()
    prefix = other["Authorization"].removeprefix("Bearer ")[:8]
    (key,) = [k for k in keys["items"] if k["prefix"] == prefix]
    assert (await client.delete(f"/v1/api-keys/{key['id']}", headers=admin)).status_code == 204
    refused = await client.get("/v1/api-keys", headers=other)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"


async def test_partner_key_needs_exactly_one_party(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    none = await client.post("/v1/api-keys", json={"name": "p", "role": "partner"}, headers=admin)
    assert none.status_code == 422 and none.json()["code"] == "party_required"
    committee = (await client.get("/v1/committees", headers=admin)).json()["items"][0]
    unknown = await client.post(
        "/v1/api-keys",
        json={"name": "p", "role": "partner", "organization_id": committee["id"]},
        headers=admin,
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_party"


async def test_partner_updates_only_its_own_profile(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    own, other = (await client.get("/v1/organizations", params={"limit": 2}, headers=admin)).json()[
        "items"
    ]
    partner = await make_key("partner", organization_id=own["id"])
    mine = await client.patch(
        f"/v1/organizations/{own['id']}",
        json={"needs": "需要低压电器绿色设计标准"},
        headers={**partner, "If-Match": f'"{own["version"]}"'},
    )
    assert mine.status_code == 200, mine.text
    theirs = await client.patch(
        f"/v1/organizations/{other['id']}",
        json={"needs": "被别人改了"},
        headers={**partner, "If-Match": f'"{other["version"]}"'},
    )
    assert theirs.status_code == 403
    assert theirs.json()["code"] == "not_own_profile"
    unchanged = (await client.get(f"/v1/organizations/{other['id']}", headers=admin)).json()
    assert unchanged["needs"] == other["needs"]
    create = await client.post(
        "/v1/organizations", json={"kind": "enterprise", "name_zh": "x"}, headers=partner
    )
    assert create.status_code == 403


async def test_revocation_applies_at_once_in_another_worker(
    two_workers: Workers, committed_key: KeyFactory
) -> None:
    admin = await committed_key("admin")
    victim = await committed_key("kiosk")
    a, b = two_workers
    assert (await b.get("/v1/api-keys", headers=victim)).status_code == 403  # known, not allowed
    keys = (await a.get("/v1/api-keys", params={"limit": 500}, headers=admin)).json()["items"]
    victim_id = next(k["id"] for k in keys if k["name"] == "test kiosk")
    assert (await a.delete(f"/v1/api-keys/{victim_id}", headers=admin)).status_code == 204
    assert (await b.get("/v1/api-keys", headers=victim)).status_code == 401


async def test_revocation_applies_at_once_to_keys_the_process_has_seen(
    committed_app: FastAPI,
    committed_client: httpx.AsyncClient,
    committed_key: KeyFactory,
    is_postgres: bool,
) -> None:
    # The production path: on PostgreSQL the key is checked by autocommit statements.
    async with committed_app.state.statement_connections() as connection:
        autocommit = (
            connection.sync_connection.get_execution_options().get("isolation_level")
            == "AUTOCOMMIT"
        )
    assert autocommit == is_postgres
    admin = await committed_key("admin")
    seen = {"kiosk": await committed_key("kiosk"), "admin": await committed_key("admin")}
    for headers in seen.values():
        assert (await committed_client.get("/v1/committees", headers=headers)).status_code in (
            200,
            403,
        )
    keys = (await committed_client.get("/v1/api-keys?limit=500", headers=admin)).json()["items"]
    for role, headers in seen.items():
        prefix = headers["Authorization"].removeprefix("Bearer ")[:8]
        (key,) = [k for k in keys if k["prefix"] == prefix]
        revoked = await committed_client.delete(f"/v1/api-keys/{key['id']}", headers=admin)
        assert revoked.status_code == 204
        refused = await committed_client.get("/v1/committees", headers=headers)
        assert refused.status_code == 401, (role, refused.text)
