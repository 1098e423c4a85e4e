"""Webhook subscriptions over HTTP: the address guard, the secret shown once, who sees what."""

import httpx
import pytest

from tests.support import Headers, KeyFactory, random_id


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.8/hook",
        "http://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://2130706433/hook",
        "ftp://93.184.216.34/hook",
        "file:///etc/passwd",
        "http://user:password@93.184.216.34/hook",
        "http:///no-host",
        "not a url",
    ],
)
async def test_unsafe_urls_are_refused_by_default(
    client: httpx.AsyncClient, admin: Headers, url: str
) -> None:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "event_types": ["intent.created"]}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "unsafe_webhook_url"
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://10.1.2.3/hook"])
async def test_a_private_target_names_the_setting_that_allows_it(
    client: httpx.AsyncClient, admin: Headers, url: str
) -> None:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "event_types": ["intent.created"]}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert "WEBHOOK_ALLOW_PRIVATE_NETWORKS" in response.json()["detail"]
    assert response.json()["setting"] == "WEBHOOK_ALLOW_PRIVATE_NETWORKS"


async def test_a_public_address_is_accepted_and_the_secret_shown_once(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    created = await client.post(
        "/v1/webhooks",
        json={
            "url": "https://93.184.216.34/hooks/standards",
            "event_types": ["intent.created", "memorandum.signed"],
            "description": "温州市标准化研究院 CRM",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    webhook = created.json()
    assert webhook["secret"].startswith("whsec_") and len(webhook["secret"]) > 40
    assert created.headers["location"] == f"/v1/webhooks/{webhook['id']}"
    read = (await client.get(f"/v1/webhooks/{webhook['id']}", headers=admin)).json()
    assert "secret" not in read
    assert read == {k: v for k, v in webhook.items() if k != "secret"}
    listed = (await client.get("/v1/webhooks", headers=admin)).json()["items"]
    assert all("secret" not in w for w in listed)


async def test_a_partner_sees_only_its_own_subscriptions(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    committees = (await client.get("/v1/committees?limit=2", headers=admin)).json()["items"]
    ours = await make_key("partner", committee_id=committees[0]["id"])
    theirs = await make_key("partner", committee_id=committees[1]["id"])
    body = {"url": "https://93.184.216.34/hook", "event_types": ["intent.created"]}
    mine = (await client.post("/v1/webhooks", json=body, headers=ours)).json()
    assert mine["committee_id"] == committees[0]["id"]
    admins = (await client.post("/v1/webhooks", json=body, headers=admin)).json()
    assert admins["committee_id"] is None and admins["organization_id"] is None

    assert [w["id"] for w in (await client.get("/v1/webhooks", headers=ours)).json()["items"]] == [
        mine["id"]
    ]
    assert (await client.get("/v1/webhooks", headers=theirs)).json()["items"] == []
    for path in (f"/v1/webhooks/{mine['id']}", f"/v1/webhooks/{mine['id']}/deliveries"):
        assert (await client.get(path, headers=theirs)).status_code == 404
        assert (await client.get(path, headers=ours)).status_code == 200
    assert (await client.get(f"/v1/webhooks/{admins['id']}", headers=ours)).status_code == 404
    gone = await client.delete(f"/v1/webhooks/{mine['id']}", headers={**theirs, "If-Match": '"1"'})
    assert gone.status_code == 404
    seen_by_admin = (await client.get("/v1/webhooks", headers=admin)).json()["items"]
    assert {mine["id"], admins["id"]} <= {w["id"] for w in seen_by_admin}
    kiosk = await make_key("kiosk")
    assert (await client.get("/v1/webhooks", headers=kiosk)).status_code == 403


async def test_patch_and_delete_need_if_match(client: httpx.AsyncClient, admin: Headers) -> None:
    body = {"url": "https://93.184.216.34/hook", "event_types": ["intent.created"]}
    webhook = (await client.post("/v1/webhooks", json=body, headers=admin)).json()
    url = f"/v1/webhooks/{webhook['id']}"
    assert (await client.patch(url, json={"description": "x"}, headers=admin)).status_code == 428
    unsafe = await client.patch(
        url, json={"url": "http://10.0.0.1/"}, headers={**admin, "If-Match": '"1"'}
    )
    assert unsafe.json()["code"] == "unsafe_webhook_url"
    patched = await client.patch(
        url,
        json={"event_types": ["checkin.created", "schedule.published"]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert patched.status_code == 200
    assert patched.json()["event_types"] == ["checkin.created", "schedule.published"]
    assert patched.headers["etag"] == '"2"'
    assert (await client.delete(url, headers={**admin, "If-Match": '"1"'})).status_code == 412
    assert (await client.delete(url, headers={**admin, "If-Match": '"2"'})).status_code == 204
    assert (await client.get(url, headers=admin)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://93.184.216.34/", "event_types": []},
        {"url": "https://93.184.216.34/", "event_types": ["intent.deleted"]},
        {"url": "https://93.184.216.34/", "event_types": ["intent.created", "intent.created"]},
        {"url": "https://93.184.216.34/", "event_types": ["intent.created"], "secret": "short"},
        {"url": "https://93.184.216.34/", "event_types": ["intent.created"], "extra": 1},
    ],
)
async def test_invalid_subscriptions_are_422(
    client: httpx.AsyncClient, admin: Headers, body: dict[str, object]
) -> None:
    response = await client.post("/v1/webhooks", json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


async def test_unknown_subscription_is_404(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.get(f"/v1/webhooks/{random_id()}/deliveries", headers=admin)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
