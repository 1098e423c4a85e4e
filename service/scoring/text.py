"""Tokens of free Chinese and English text, and how much two token sets overlap."""

from __future__ import annotations

import functools
import logging
import re

import jieba

from service.chinese import fold

# Single characters (的, 和, 与) carry no topic; latin words and numbers of one letter neither.
_KEEP = re.compile(r"^(?:[\u3400-\u9fff]{2,}|[a-z0-9][a-z0-9.+#-]*[a-z0-9+#])$")


@functools.cache
def _tokenizer() -> jieba.Tokenizer:
    """A jieba tokenizer with its dictionary loaded on first use, not at import."""
    # jieba logs its dictionary loading at DEBUG to stderr; keep the service logs clean.
    jieba.setLogLevel(logging.WARNING)
    # The dictionary loads (under jieba's own lock) on the first cut, not here.
    return jieba.Tokenizer()


def text_tokens(*, text: str) -> frozenset[str]:
    """The distinct topic words of a text: simplified Chinese words and lower-cased latin words."""
    if not text.strip():
        return frozenset()
    # Folded first (simplified script, half-width, lower case) so 機器人 and 机器人 are one word.
    return frozenset(t for t in _tokenizer().lcut(fold(text)) if _KEEP.match(t))


def similarity(*, a: frozenset[str], b: frozenset[str]) -> int:
    """Dice overlap of two token sets in thousandths, rounded down; 0 when either is empty."""
    if not a or not b:
        return 0
    return (2000 * len(a & b)) // (len(a) + len(b))
