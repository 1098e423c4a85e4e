import pytest

from service.directory.credit_code import (
    CHARSET,
    WEIGHTS,
    check_character,
    complete_credit_code,
    is_valid_credit_code,
    org_code_check_character,
)

# Real, published codes used as fixtures in public code:
# - dromara/hutool, hutool-core/src/test/java/cn/hutool/core/util/CreditCodeUtilTest.java
#   (91310115591693856A, 91310110666007217T; and 91350211M00013FA1N, asserted invalid there
#   because early Xiamen pilot codes predate the national standard).
# - 02020/vite, learn/utils/validateSocialCreditCode.js (a list of Xiamen/Guangzhou business
#   licence codes: the MA... ones carry letters in the organization code, which exercises the
#   GB 11714 letter values A=10 ... Z=35; 123502001549897397 is a public institution, '12').
REAL_CODES = [
    "91310115591693856A",
    "91310110666007217T",
    "91440101MA5CJQ4N59",
    "91350200MA31E12PXF",
    "91350503MA31DKY80A",
    "9135021359498494XQ",
    "91350213678251743X",
    "123502001549897397",
]


def test_weights_are_powers_of_three_mod_31() -> None:
    assert list(WEIGHTS) == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    assert len(CHARSET) == 31
    assert not set("IOSVZ") & set(CHARSET)


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_published_codes_are_valid(code: str) -> None:
    assert is_valid_credit_code(code)
    assert check_character(code[:17]) == code[17]
    assert org_code_check_character(code[8:16]) == code[16]


def test_early_pilot_code_that_breaks_the_standard_is_rejected() -> None:
    # Its organization code check is right but the GB 32100 check character is not.
    code = "91350211M00013FA1N"
    assert org_code_check_character(code[8:16]) == code[16]
    assert not is_valid_credit_code(code)


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("12345678", "8"),  # worked example: sum 289, 289 % 11 = 3, 11 - 3 = 8
        ("D2143569", "X"),  # sum 199, 199 % 11 = 1 -> 10 -> 'X'
        ("00000000", "0"),  # sum 0 -> 11 -> '0'
    ],
)
def test_org_code_check_character(body: str, check: str) -> None:
    assert org_code_check_character(body) == check


@pytest.mark.parametrize(
    "code",
    [
        "",
        "91310115591693856",  # 17 characters
        "91310115591693856AA",  # 19 characters
        "91310115591693856a",  # lower-case check character
        "91440101ma5cjq4n59",  # lower-case throughout (the API upper-cases before validating)
        "91310115591693856B",  # wrong GB 32100 check character
        "913101155916938X6A",  # wrong GB 11714 check character in the organization code
        "9131011559169385IA",  # forbidden letter I
        "9131011559169385OA",  # forbidden letter O
        "9131011559169385SA",  # forbidden letter S
        "9131011559169385VA",  # forbidden letter V
        "9131011559169385ZA",  # forbidden letter Z
        "913A0115591693856A",  # letter in the administrative division code
        " 91310115591693856A",  # surrounding whitespace is not stripped here
        "91310115591693856A\n",
        "９１３１０１１５５９１６９３８５６Ａ",  # full-width characters
    ],
)
def test_malformed_codes_are_rejected(code: str) -> None:
    assert not is_valid_credit_code(code)


def test_non_string_is_rejected() -> None:
    assert not is_valid_credit_code(None)  # type: ignore[arg-type]
    assert not is_valid_credit_code(91310115591693856)  # type: ignore[arg-type]


def test_every_single_character_substitution_is_detected() -> None:
    code = "91310110666007217T"
    for i, original in enumerate(code):
        for ch in CHARSET:
            if ch == original:
                continue
            altered = code[:i] + ch + code[i + 1 :]
            assert not is_valid_credit_code(altered), altered


def test_check_character_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        check_character("9131011559169385")
    with pytest.raises(ValueError):
        check_character("9131011559169385I")
    with pytest.raises(ValueError):
        org_code_check_character("1234567")


def test_complete_credit_code_round_trips() -> None:
    code = complete_credit_code("91330302", "MA2ABCD1")
    assert len(code) == 18
    assert is_valid_credit_code(code)
    assert complete_credit_code("91310115", "59169385") == "91310115591693856A"
