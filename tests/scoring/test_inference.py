"""Domains read from a profile's own words: names, synonyms and descriptions, either script."""

from __future__ import annotations

from service.directory.taxonomy import taxonomy_source
from service.scoring.inference import DomainWords, Lexicon

# The shipped taxonomy as the service reads it: every domain but the roots.
LEXICON = Lexicon(
    DomainWords(
        str(d["code"]),
        (
            str(d["code"]).replace("_", " "),
            d["name_en"],
            d["name_zh_hans"],
            d["name_zh_hant"],
            *d["synonyms"],
        ),
        f"{d['description_zh']}、{d['description_en']}",
    )
    for d in taxonomy_source()
    if d["parent"]
)


def codes(text: str) -> list[str]:
    return [f.code for f in LEXICON.infer(text=text)]


def test_pet_products_from_a_line_of_needs() -> None:
    [pets] = LEXICON.infer(text="宠物食品、猫砂和宠物牵引用品的生产与销售")
    assert pets.code == "pet_products"
    # 宠物 (a synonym) inside 宠物食品 (a description word) counts once, as a name: 1.0, and
    # 猫砂 0.5: 1 - exp(-1.5).
    assert pets.terms == ("宠物食品", "猫砂")
    assert pets.confidence == 0.777


def test_either_script_and_english() -> None:
    assert codes("寵物食品與貓砂的生產") == ["pet_products"]
    assert codes("Manufacture of cat litter and pet food") == ["pet_products"]
    assert codes("不鏽鋼管材的生產與銷售") == ["steel"]


def test_latin_terms_only_as_whole_words() -> None:
    # "ai" (a synonym of artificial intelligence) is inside "maintain" and "said".
    assert codes("We maintain and repair what was said") == []
    assert codes("Trustworthy AI evaluation") == ["artificial_intelligence"]


def test_single_characters_and_roots_say_nothing() -> None:
    # 钢 and 泵 are synonyms too short to trust; 未来产业 names a root.
    assert codes("钢琴与水泵") == []
    assert codes("未来产业") == []


def test_strongest_first_and_at_most_four() -> None:
    found = LEXICON.infer(
        text="工业机器人、人形机器人、具身智能、物联网、碳足迹、电子商务、旅游与物流服务"
    )
    assert 1 <= len(found) <= 4
    assert [f.confidence for f in found] == sorted((f.confidence for f in found), reverse=True)
    assert found == LEXICON.infer(
        text="工业机器人、人形机器人、具身智能、物联网、碳足迹、电子商务、旅游与物流服务"
    )


def test_no_words_no_domains() -> None:
    assert codes("") == []
    assert codes("有限公司") == []
