"""Chinese text as users type it: simplified or traditional script, pinyin, initials."""

import unicodedata
from functools import lru_cache

from opencc import OpenCC
from pypinyin import lazy_pinyin

_to_simplified = OpenCC("t2s")


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """A search key: width-normalized, simplified script, case-folded."""
    normalized = unicodedata.normalize("NFKC", text)
    return str(_to_simplified.convert(normalized)).casefold()


def pinyin_forms(text: str) -> tuple[str, str]:
    """Full pinyin without tones and the initials of each syllable, both without spaces."""
    syllables = [s for s in lazy_pinyin(fold(text), errors="ignore") if s.isalnum()]
    return "".join(syllables), "".join(s[0] for s in syllables)


def search_key(*texts: str | None) -> str:
    """What a record is found by: each text folded, and for each one written in Chinese its
    pinyin and initials too, so `wenzhou` and `wz` find 浙江省温州市 in whichever field it is."""
    present = [t for t in texts if t]
    parts = [fold(t) for t in present]
    for text in present:
        if any("\u4e00" <= ch <= "\u9fff" or ord(ch) > 0xFFFF for ch in text):
            parts.extend(form for form in pinyin_forms(text) if form)
    return " ".join(parts)


def like_pattern(text: str) -> str:
    """A LIKE pattern finding the folded text anywhere, with wildcards in it taken literally."""
    escaped = fold(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
