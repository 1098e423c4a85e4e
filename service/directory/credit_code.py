"""Unified social credit code (统一社会信用代码) validation per GB 32100-2015.

An 18-character code is laid out as:

* position 1: registration authority (登记管理部门代码), e.g. ``9`` market regulation,
  ``5`` civil affairs, ``1`` establishment administration;
* position 2: organization category (机构类别代码);
* positions 3-8: administrative division code (GB/T 2260), six digits;
* positions 9-17: organization code (主体标识码) per GB 11714, whose ninth character is
  itself a check character (weights 3,7,9,10,5,8,4,2 modulo 11, ``X`` for 10);
* position 18: check character, modulo 31 over the charset below with weights 3**i mod 31.

The functions are strict: lower-case letters and the letters I, O, S, V, Z are rejected.
Callers that accept user input should normalise (strip, upper-case) before validating.
"""

from __future__ import annotations

import re

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of GB 32100 codes, in value order (no I, O, S, V, Z)."""

WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
"""Weights of positions 1..17: 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28."""

ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
"""GB 11714 weights of the eight body characters of the organization code."""

_ORG_CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""GB 11714 character values: digits as themselves, A=10 ... Z=35 (full Latin alphabet)."""

_C = f"[{CHARSET}]"
_SHAPE = re.compile(rf"{_C}{{2}}[0-9]{{6}}{_C}{{10}}")
_BODY17 = re.compile(rf"{_C}{{2}}[0-9]{{6}}{_C}{{9}}")


def check_character(code17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters of a credit code."""
    if len(code17) != 17 or any(ch not in CHARSET for ch in code17):
        raise ValueError(f"expected 17 characters from the GB 32100 charset, got {code17!r}")
    total = sum(CHARSET.index(ch) * w for ch, w in zip(code17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def org_code_check_character(body8: str) -> str:
    """Return the GB 11714 check character for the eight-character organization code body."""
    if len(body8) != 8 or any(ch not in _ORG_CODE_ALPHABET for ch in body8):
        raise ValueError(f"expected 8 characters [0-9A-Z], got {body8!r}")
    total = sum(
        _ORG_CODE_ALPHABET.index(ch) * w for ch, w in zip(body8, ORG_CODE_WEIGHTS, strict=True)
    )
    value = 11 - total % 11
    if value == 10:
        return "X"
    if value == 11:
        return "0"
    return str(value)


def is_valid_credit_code(code: str) -> bool:
    """Tell whether ``code`` is a well-formed credit code with both check characters right."""
    if not isinstance(code, str) or _SHAPE.fullmatch(code) is None:
        return False
    org_code = code[8:17]
    if org_code_check_character(org_code[:8]) != org_code[8]:
        return False
    return check_character(code[:17]) == code[17]


def complete_credit_code(prefix8: str, org_body8: str) -> str:
    """Build a full credit code from the first eight characters and an org-code body."""
    if _BODY17.fullmatch(prefix8 + org_body8 + "0") is None:
        raise ValueError(f"malformed credit code parts {prefix8!r} {org_body8!r}")
    code17 = prefix8 + org_body8 + org_code_check_character(org_body8)
    return code17 + check_character(code17)
