"""Internal consistency of the demo data (the Wenzhou matchmaking session of 2025-09-23)."""

import hashlib
import json
import re
from collections import Counter
from datetime import date, datetime
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from opencc import OpenCC  # type: ignore[import-untyped]

import service
from service.directory.credit_code import is_valid_credit_code

DEMO = Path(service.__file__).parent / "demo"
TAXONOMY = Path(service.__file__).parent / "directory" / "taxonomy.json"

# Designations marked "confirmed" in /work/shared/reference/committees.md, with the secretariat
# where that reference gives one.  Nothing outside this table may appear in the demo data.
CONFIRMED: dict[str, str | None] = {
    "ISO/IEC JTC 1/SC 41": None,
    "ISO/IEC JTC 1/SC 42": "ANSI",
    "ISO/TC 299": "SIS",
    "ISO/TC 184": None,
    "ISO/TC 184/SC 4": None,
    "IEC SyC SM": None,
    "ISO/TC 207": None,
    "ISO/TC 207/SC 7": None,
    "IEC TC 111": None,
    "ISO/TC 154": None,
    "ISO/TC 321": "SAC",
    "ISO/TC 344": "SAC",
    "ISO/TC 312": None,
    "ISO/TC 228": None,
    "ISO/TC 204": None,
    "ISO/TC 17": None,
    "ISO/TC 102": None,
    "ISO/TC 132": None,
    "ISO/TC 183": None,
    "SAC/TC 28": "CESI",
    "SAC/TC 28/SC 41": None,
    "SAC/TC 28/SC 42": None,
    "MIIT/TC1": "CAICT",
    "SAC/TC 591": None,
    "SAC/TC 159": None,
    "SAC/TC 124": None,
    "SAC/TC 297": "CQC",
    "SAC/TC 548": None,
    "SAC/TC 181": None,
    "SAC/TC 118/SC 2": None,
}

ROOTS = {
    "future_industries",
    "emerging_fields",
    "traditional_industry_upgrading",
    "service_quality",
    "social_governance",
}
REQUIRED_DOMAINS = {
    "iot",
    "intelligent_manufacturing",
    "artificial_intelligence",
    "embodied_ai",
    "green_low_carbon",
    "carbon_footprint",
    "digital_trade",
    "service_trade",
    "bulk_commodity_storage_transport",
    "ee_product_environment",
    "pet_products",
}
# The themes the news report says were discussed face to face.
DISCUSSED = {
    "iot",
    "intelligent_manufacturing",
    "embodied_ai",
    "green_low_carbon",
    "digital_trade",
    "service_trade",
}
MOBILE = re.compile(r"\+86 1[3-9]\d \d{4} \d{4}")
LANDLINE = re.compile(r"\+86 \d{2,3} \d{4} \d{4}")
HAN = re.compile(r"[\u3400-\u9fff\U00020000-\U0003134f]")

s2t = OpenCC("s2t").convert
t2s = OpenCC("t2s").convert


@cache
def _load(name: str) -> Any:
    return json.loads(_path(name).read_text(encoding="utf-8"))


def _path(name: str) -> Path:
    # The taxonomy ships with the directory, not the demo: production needs it too.
    return TAXONOMY if name == "domains.json" else DEMO / name


def domains() -> list[dict[str, Any]]:
    return _load("domains.json")  # type: ignore[no-any-return]


def committees() -> list[dict[str, Any]]:
    return _load("committees.json")  # type: ignore[no-any-return]


def organizations() -> list[dict[str, Any]]:
    return _load("organizations.json")  # type: ignore[no-any-return]


def event() -> dict[str, Any]:
    return _load("event.json")  # type: ignore[no-any-return]


def agreements() -> dict[str, Any]:
    return _load("agreements.json")  # type: ignore[no-any-return]


def domain_codes() -> set[str]:
    return {d["code"] for d in domains()}


def committee_domains() -> dict[str, set[str]]:
    return {c["designation"]: {d["domain"] for d in c["domains"]} for c in committees()}


def organization_domains() -> dict[str, set[str]]:
    return {o["credit_code"]: {d["domain"] for d in o["domains"]} for o in organizations()}


def party_key(ref: dict[str, str]) -> tuple[str, str]:
    assert len(ref) == 1, ref
    ((kind, key),) = ref.items()
    assert kind in {"committee", "organization"}, ref
    return kind, key


def pair(a: dict[str, str], b: dict[str, str]) -> tuple[str, str]:
    """(designation, credit_code) of a committee-organization pair, in either direction."""
    ka, kb = party_key(a), party_key(b)
    assert {ka[0], kb[0]} == {"committee", "organization"}, (a, b)
    return (ka[1], kb[1]) if ka[0] == "committee" else (kb[1], ka[1])


@pytest.mark.parametrize(
    "name",
    ["domains.json", "committees.json", "organizations.json", "event.json", "agreements.json"],
)
def test_files_are_pretty_printed_utf8(name: str) -> None:
    text = _path(name).read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, ensure_ascii=False, indent=2) + "\n"


# ---------------------------------------------------------------- domains


def test_domain_codes_and_hierarchy() -> None:
    items = domains()
    codes = [d["code"] for d in items]
    assert len(codes) == len(set(codes))
    assert 30 <= len(codes) <= 45
    assert set(codes) >= REQUIRED_DOMAINS
    assert {d["code"] for d in items if d["parent"] is None} == ROOTS
    seen: dict[str, str | None] = {}
    for d in items:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", d["code"]), d["code"]
        assert d["parent"] is None or d["parent"] in seen, f"{d['code']}: parent not before it"
        seen[d["code"]] = d["parent"]
    depths = {}
    for code in codes:
        depth, node = 1, seen[code]
        while node is not None:
            depth, node = depth + 1, seen[node]
        depths[code] = depth
    assert max(depths.values()) == 3
    assert seen["embodied_ai"] == "artificial_intelligence"
    assert seen["carbon_footprint"] == "green_low_carbon"
    assert seen["iot"] == "emerging_fields"


def test_domain_names_are_bilingual_and_traditional_names_correct() -> None:
    expected = {
        "iot": "物聯網",
        "intelligent_manufacturing": "智能製造",
        "green_low_carbon": "綠色低碳",
        "digital_trade": "數字貿易",
        "service_trade": "服務貿易",
        "bulk_commodity_storage_transport": "大宗商品儲運",
        "pet_products": "寵物用品",
        "ee_product_environment": "電工電子產品環境保護",
    }
    by_code = {d["code"]: d for d in domains()}
    for code, hant in expected.items():
        assert by_code[code]["name_zh_hant"] == hant
    for d in domains():
        assert d["name_en"].isascii() and d["name_en"].strip()
        assert HAN.search(d["name_zh_hans"]) and HAN.search(d["name_zh_hant"])
        # Simplified and traditional spell the same words; no simplified-only characters remain.
        assert t2s(d["name_zh_hant"]) == d["name_zh_hans"], d["code"]
        assert s2t(d["name_zh_hant"]) == d["name_zh_hant"], d["code"]
        for name in (d["name_en"], d["name_zh_hans"], d["name_zh_hant"]):
            assert name in d["synonyms"], (d["code"], name)


def test_synonyms_are_unambiguous() -> None:
    owner: dict[str, str] = {}
    for d in domains():
        folded = [s.casefold() for s in d["synonyms"]]
        assert len(folded) == len(set(folded)), d["code"]
        for s in folded:
            assert owner.setdefault(s, d["code"]) == d["code"], f"{s!r} in two domains"


# ---------------------------------------------------------------- committees


def test_committees() -> None:
    items = committees()
    assert len(items) == 22
    designations = [c["designation"] for c in items]
    assert len(set(designations)) == 22
    codes = domain_codes()
    levels = Counter(c["level"] for c in items)
    assert set(levels) <= {"international", "national", "industry", "provincial"}
    for c in items:
        des = c["designation"]
        assert des in CONFIRMED, f"{des} is not a confirmed designation"
        assert c["secretariat"] == CONFIRMED[des], des
        if des.startswith(("ISO", "IEC")):
            assert c["level"] == "international", des
        elif des.startswith("SAC/"):
            assert c["level"] == "national", des
        assert c["name_en"].isascii() and HAN.search(c["name_zh"]), des
        assert HAN.search(c["scope"]) and len(c["scope"]) >= 20, des
        contact = c["contact"]
        assert HAN.search(contact["name"]), des
        assert contact["email"].endswith("@example.org"), des
        assert LANDLINE.fullmatch(contact["phone"]), des
        doms = [d["domain"] for d in c["domains"]]
        assert 1 <= len(doms) <= 3 and len(set(doms)) == len(doms), des
        assert set(doms) <= codes, des
        assert all(0 < d["weight"] <= 1 for d in c["domains"]), des
    assert next(c for c in items if c["designation"] == "MIIT/TC1")["level"] == "industry"
    assert levels["international"] >= 10 and levels["national"] >= 5
    covered = set().union(*committee_domains().values())
    assert covered >= DISCUSSED
    assert covered >= {"ee_product_environment", "bulk_commodity_storage_transport", "pet_products"}


# ---------------------------------------------------------------- organizations

CATEGORY = {"enterprise": "91", "association": "51", "institute": "12"}


def test_organizations() -> None:
    items = organizations()
    assert len(items) == 35
    kinds = Counter(o["kind"] for o in items)
    assert kinds == {"enterprise": 22, "association": 7, "institute": 6}
    codes = [o["credit_code"] for o in items]
    assert len(set(codes)) == 35
    assert len({o["name_zh"] for o in items}) == 35
    assert len({o["name_en"] for o in items}) == 35
    known = domain_codes()
    for o in items:
        code = o["credit_code"]
        assert is_valid_credit_code(code), code
        assert code[:2] == CATEGORY[o["kind"]], (o["name_zh"], code)
        region = o["region"]
        if region == "北京市":
            assert code[2:4] == "11"
        else:
            assert region.startswith("浙江省") and region.endswith("市"), region
            assert code[2:4] == "33", code
        doms = [d["domain"] for d in o["domains"]]
        assert 1 <= len(doms) <= 4 and len(set(doms)) == len(doms)
        assert set(doms) <= known, o["name_zh"]
        assert all(0 < d["weight"] <= 1 for d in o["domains"])
        assert HAN.search(o["needs"]), o["name_zh"]
        assert o["name_en"].isascii()
        track = o["track_record"]
        assert set(track) == {"national", "industry", "zhejiang_made"}
        assert all(isinstance(v, int) and 0 <= v <= 50 for v in track.values())


def test_wenzhou_is_the_centre_of_gravity() -> None:
    items = organizations()
    wenzhou = [o for o in items if o["region"] == "浙江省温州市"]
    assert len(wenzhou) > len(items) / 2
    assert all(o["credit_code"][2:6] == "3303" for o in wenzhou)
    # A search for 温州 that folds traditional to simplified finds several, the
    # traditional-script name among them.
    hits = [o["name_zh"] for o in items if "温州" in t2s(o["name_zh"])]
    assert len(hits) >= 5
    assert any("溫州" in name for name in hits)
    assert len({o["region"] for o in items}) >= 5


def test_traditional_script_name_is_stored_as_given() -> None:
    traditional = [o["name_zh"] for o in organizations() if t2s(o["name_zh"]) != o["name_zh"]]
    assert traditional
    simplified = {t2s(o["name_zh"]) for o in organizations()}
    assert len(simplified) == 35, "two names collide once folded"


def test_metallurgical_institute() -> None:
    (inst,) = [o for o in organizations() if o["name_zh"] == "冶金工业信息标准研究院"]
    assert inst["kind"] == "institute"
    assert inst["region"] == "北京市"
    assert inst["credit_code"].startswith("12110000")


# ---------------------------------------------------------------- event


def _minutes(hhmm: str) -> int:
    t = datetime.strptime(hhmm, "%H:%M")
    return t.hour * 60 + t.minute


def test_event_header_and_slots() -> None:
    ev = event()
    assert ev["date"] == "2025-09-23"
    assert ev["timezone"] == "Asia/Shanghai"
    assert "温州" in ev["venue"]
    assert ev["name_en"].isascii() and ev["name_zh"]
    assert ev["tables"] == 22
    slots = [(_minutes(s["start"]), _minutes(s["end"])) for s in ev["slots"]]
    assert len(slots) == 8
    assert {end - start for start, end in slots} == {20}
    for (_, prev_end), (start, _) in pairwise(slots):
        assert start >= prev_end


def test_event_participants() -> None:
    ev = event()
    parts = ev["participants"]
    assert len(parts) == 57
    keys = [
        party_key({k: v for k, v in p.items() if k in {"committee", "organization"}}) for p in parts
    ]
    assert len(set(keys)) == 57
    assert {k for kind, k in keys if kind == "committee"} == set(committee_domains())
    assert {k for kind, k in keys if kind == "organization"} == set(organization_domains())
    n_slots = len(ev["slots"])
    people = [person for p in parts for person in p["people"]]
    for p in parts:
        assert 1 <= len(p["people"]) <= 3
        unavailable = p["unavailable_slots"]
        assert len(unavailable) == len(set(unavailable)) <= 2
        assert all(1 <= s <= n_slots for s in unavailable)
        assert 0 <= p["min_meetings"] <= 3
        assert 4 <= p["max_meetings"] <= 8
        assert p["min_meetings"] <= p["max_meetings"] <= n_slots - len(unavailable)
    assert 1 <= sum(bool(p["unavailable_slots"]) for p in parts) <= 12
    for person in people:
        assert HAN.search(person["name"]) and HAN.search(person["title"])
        assert MOBILE.fullmatch(person["phone"]), person
        assert person["email"].endswith("@example.com"), person
    assert len({p["phone"][-4:] for p in people}) == len(people), "last four digits repeat"
    assert len({p["email"] for p in people}) == len(people)
    assert len({p["name"] for p in people}) == len(people)
    # some rarer characters, one outside the Basic Multilingual Plane
    assert any(ord(ch) > 0xFFFF for p in people for ch in p["name"])
    # the committee contact is one of the people it sends
    sent = {p["committee"]: {x["name"] for x in p["people"]} for p in parts if "committee" in p}
    for c in committees():
        assert c["contact"]["name"] in sent[c["designation"]]


def test_meeting_requests() -> None:
    requests = event()["meeting_requests"]
    assert 12 <= len(requests) <= 18
    cdom, odom = committee_domains(), organization_domains()
    pairs = []
    for r in requests:
        c, o = pair(r["from"], r["to"])
        assert c in cdom and o in odom
        assert cdom[c] & odom[o], f"{c} and {o} share no domain"
        assert r["state"] in {"accepted", "pending", "declined"}
        assert HAN.search(r["message"])
        pairs.append((c, o))
    assert len(pairs) == len(set(pairs))
    assert {r["state"] for r in requests} == {"accepted", "pending", "declined"}


def test_preferences() -> None:
    ev = event()
    prefs = ev["preferences"]
    assert 8 <= len(prefs) <= 12
    kinds = Counter(p["kind"] for p in prefs)
    assert set(kinds) <= {"must_meet", "would_like", "do_not_meet"}
    assert 1 <= kinds["do_not_meet"] <= 2 and kinds["must_meet"] >= 1
    cdom, odom = committee_domains(), organization_domains()
    unavailable = {
        party_key({k: v for k, v in p.items() if k in {"committee", "organization"}})[1]: set(
            p["unavailable_slots"]
        )
        for p in ev["participants"]
    }
    all_slots = set(range(1, len(ev["slots"]) + 1))
    by_pair: dict[tuple[str, str], set[str]] = {}
    for p in prefs:
        c, o = pair(p["from"], p["to"])
        assert c in cdom and o in odom
        by_pair.setdefault((c, o), set()).add(p["kind"])
        if p["kind"] == "must_meet":
            assert all_slots - unavailable[c] - unavailable[o], (c, o)
    for kinds_of_pair in by_pair.values():
        assert not ({"do_not_meet"} < kinds_of_pair), "contradictory preferences"
    avoided = {pr for pr, ks in by_pair.items() if "do_not_meet" in ks}
    accepted = {
        pair(r["from"], r["to"]) for r in ev["meeting_requests"] if r["state"] == "accepted"
    }
    intents = {(i["committee"], i["organization"]) for i in agreements()["intents"]}
    assert not avoided & accepted
    assert not avoided & intents


# ---------------------------------------------------------------- agreements


def test_intents() -> None:
    intents = agreements()["intents"]
    assert len(intents) == 14
    cdom, odom = committee_domains(), organization_domains()
    pairs = []
    for i in intents:
        c, o = i["committee"], i["organization"]
        assert c in cdom and o in odom
        assert i["domains"] and len(set(i["domains"])) == len(i["domains"])
        assert set(i["domains"]) <= cdom[c] & odom[o], (c, o, i["domains"])
        assert i["state"] in {"proposed", "confirmed", "in_progress"}
        assert HAN.search(i["summary"])
        target = date.fromisoformat(i["target_date"])
        assert target.year == 2026
        pairs.append((c, o))
    assert len(set(pairs)) == 14
    # most intents follow up a meeting somebody asked for
    ev = event()
    requested = {
        pair(r["from"], r["to"]) for r in ev["meeting_requests"] if r["state"] != "declined"
    }
    assert sum(p in requested for p in pairs) >= 10
    declined = {
        pair(r["from"], r["to"]) for r in ev["meeting_requests"] if r["state"] == "declined"
    }
    assert not declined & set(pairs)


def test_memoranda() -> None:
    memos = agreements()["memoranda"]
    assert len(memos) == 4
    cdom, odom = committee_domains(), organization_domains()
    known = domain_codes()
    for m in memos:
        assert HAN.search(m["title"]) and m["title_en"].isascii()
        assert m["signed_on"] == m["effective_from"] == "2025-09-23"
        assert date.fromisoformat(m["effective_to"]) == date(2028, 9, 22)
        assert m["committees"] and m["organizations"]
        assert len(set(m["committees"])) == len(m["committees"])
        assert len(set(m["organizations"])) == len(m["organizations"])
        assert set(m["committees"]) <= set(cdom)
        assert set(m["organizations"]) <= set(odom)
        assert m["domains"] and set(m["domains"]) <= known
        signatories = set().union(
            *(cdom[c] for c in m["committees"]), *(odom[o] for o in m["organizations"])
        )
        assert set(m["domains"]) <= signatories, m["title"]
        doc = m["document"]
        assert re.fullmatch(r"https://example\.org/mou/[a-z0-9.-]+\.pdf", doc["uri"])
        assert doc["sha256"] == hashlib.sha256(m["title"].encode("utf-8")).hexdigest()
    assert len({m["title"] for m in memos}) == 4
    assert len({m["document"]["uri"] for m in memos}) == 4
    covered = {d for m in memos for d in m["domains"]}
    assert {"bulk_commodity_storage_transport", "ee_product_environment", "pet_products"} <= covered
    inst = next(o for o in organizations() if o["name_zh"] == "冶金工业信息标准研究院")
    bulk = next(m for m in memos if "bulk_commodity_storage_transport" in m["domains"])
    assert inst["credit_code"] in bulk["organizations"]
    ee = next(m for m in memos if "ee_product_environment" in m["domains"])
    assert {"IEC TC 111", "SAC/TC 297"} & set(ee["committees"])
    # Zhejiang industry representatives sign every memorandum
    zj = {o["credit_code"] for o in organizations() if o["region"].startswith("浙江省")}
    assert all(set(m["organizations"]) & zj for m in memos)
