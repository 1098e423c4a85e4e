"""Badge codes that cannot be guessed or misread, and their QR codes."""

import io
import re
import secrets

import segno

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: a code read aloud or typed from a crumpled badge stays right.
ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
LENGTH = 10  # 10 symbols of 25: about 46 bits, well over the 40 asked for
_NOT_CODE = re.compile(r"[\s\-]")


def new_badge_code() -> str:
    """A fresh random code, shown as two groups of five: `K7QHD-3MXTA`."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalize_badge_code(text: str) -> str:
    """The stored form of what a scanner or a person typed: upper case, grouped, no spaces."""
    raw = _NOT_CODE.sub("", text).upper()
    return f"{raw[:5]}-{raw[5:]}" if len(raw) == LENGTH else raw


def looks_like_badge_code(text: str) -> bool:
    """Whether text could be a badge code at all."""
    raw = _NOT_CODE.sub("", text).upper()
    return len(raw) == LENGTH and all(ch in ALPHABET for ch in raw)


def badge_svg(code: str, *, caption: str) -> bytes:
    """A printable SVG: the QR code of the badge code, titled with the holder's name."""
    qr = segno.make(code, error="m", micro=False)
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=8, border=4, title=caption, xmldecl=True)
    return buffer.getvalue()


def badge_png(code: str) -> bytes:
    """The QR code of the badge code as a PNG, large enough for a phone camera or a scanner."""
    qr = segno.make(code, error="m", micro=False)
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()
