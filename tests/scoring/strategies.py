"""Hypothesis strategies for random taxonomies and profiles."""

from __future__ import annotations

from hypothesis import strategies as st

from service.scoring.taxonomy import Profile, Taxonomy

WORDS = ("人工智能", "机器人", "数据", "安全", "iot", "标准", "制造", "能源", "edge", "质量")
weight = st.floats(min_value=0.001, max_value=1.0, allow_nan=False)


@st.composite
def taxonomies(draw: st.DrawFn, min_size: int = 1, max_size: int = 12) -> Taxonomy:
    """A forest of depth at most 3 with codes d00, d01, ..., and directory counts for some."""
    n = draw(st.integers(min_size, max_size))
    parents: dict[str, str | None] = {}
    depth: dict[str, int] = {}
    for k in range(n):
        code = f"d{k:02d}"
        options = [c for c in parents if depth[c] < 3]
        parent = draw(st.none() | st.sampled_from(options)) if options else None
        parents[code] = parent
        depth[code] = 1 if parent is None else depth[parent] + 1
    counts = draw(st.dictionaries(st.sampled_from(sorted(parents)), st.integers(0, 60)))
    return Taxonomy(parents=parents, counts=counts)


@st.composite
def profiles(
    draw: st.DrawFn, taxonomy: Taxonomy, pid: str, min_domains: int = 0, text: bool = True
) -> Profile:
    """A profile over some of the taxonomy's domains, perhaps with tokens."""
    codes = draw(
        st.lists(st.sampled_from(taxonomy.codes), min_size=min_domains, max_size=5, unique=True)
    )
    tokens = draw(st.frozensets(st.sampled_from(WORDS), max_size=5)) if text else frozenset()
    return Profile(id=pid, domains={c: draw(weight) for c in codes}, tokens=tokens)
