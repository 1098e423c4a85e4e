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


def like_pattern(text: str) -> str:
    """A LIKE pattern finding the folded text anywhere, with wildcards in it taken literally."""
    escaped = fold(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
