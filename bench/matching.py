"""Benchmark of the scoring engine on a synthetic directory; prints figures, asserts agreement.

    .venv/bin/python -m bench.matching [--organizations 100000] [--committees 1300]

A fixed seed makes every run score the same directory: about 60 domains in a forest of depth
3, 1,300 committees and 100,000 organizations whose domains follow a long tail (a few
domains are very common, most are rare), and token sets standing in for scopes and needs.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time
from collections import Counter

import numpy as np

from service.scoring.index import Match, ProfileMatrix, top_matches, top_matches_all
from service.scoring.reference import score_pair
from service.scoring.taxonomy import Profile, Taxonomy
from service.scoring.text import text_tokens
from service.scoring.weights import ScoringWeights

SEED = 20261127
# Real topic words, so the tokenizer timing below cuts text like the service's.
TERMS = (
    "人工智能",
    "具身智能",
    "机器人",
    "物联网",
    "数字孪生",
    "数据安全",
    "隐私保护",
    "区块链",
    "集成电路",
    "新能源",
    "储能",
    "氢能",
    "光伏",
    "风电",
    "智能制造",
    "工业互联网",
    "新材料",
    "生物医药",
    "医疗器械",
    "养老服务",
    "家政服务",
    "电子商务",
    "跨境贸易",
    "冷链物流",
    "食品安全",
    "农产品",
    "纺织",
    "服装",
    "鞋革",
    "低压电器",
    "汽车",
    "电池",
    "钢铁",
    "冶金",
    "化工",
    "建筑",
    "节能",
    "碳排放",
    "水处理",
    "城市治理",
    "应急管理",
    "消防",
    "交通",
    "船舶",
    "航空",
    "卫星",
    "导航",
    "通信",
    "网络安全",
)


def taxonomy_of(rng: np.random.Generator) -> Taxonomy:
    """About 60 domains: 8 roots, 3-5 children each, some children with grandchildren."""
    parents: dict[str, str | None] = {}
    for r in range(8):
        root = f"r{r}"
        parents[root] = None
        for c in range(int(rng.integers(3, 6))):
            child = f"{root}.{c}"
            parents[child] = root
            for g in range(int(rng.choice([0, 0, 1, 2]))):
                parents[f"{child}.{g}"] = child
    return Taxonomy(parents=parents)


def profiles_of(
    *,
    rng: np.random.Generator,
    taxonomy: Taxonomy,
    prefix: str,
    n: int,
    sizes: list[float],
    vocabulary: dict[str, list[str]],
) -> list[Profile]:
    """`n` profiles whose domains follow a Zipf-like popularity over the taxonomy."""
    codes = list(taxonomy.codes)
    popularity = 1.0 / np.arange(1, len(codes) + 1) ** 1.1
    popularity = popularity[rng.permutation(len(codes))]
    # Gumbel top-k: each row's first `size` columns are a weighted draw without replacement.
    keys = np.log(popularity)[None, :] + rng.gumbel(size=(n, len(codes)))
    chosen = np.argsort(-keys, axis=1)[:, : len(sizes)]
    size = rng.choice(len(sizes), size=n, p=sizes) + 1
    weights = np.round(rng.uniform(0.3, 0.9, size=(n, len(sizes))), 1)
    weights[:, 0] = 1.0
    words = rng.integers(0, 12, size=(n, len(sizes), 3))
    generic = vocabulary["*"]
    extra = rng.integers(0, len(generic), size=(n, 3))
    extra_count = rng.integers(0, 4, size=n)
    out = []
    for k in range(n):
        domains = {codes[int(chosen[k, j])]: float(weights[k, j]) for j in range(size[k])}
        tokens = {vocabulary[c][int(w)] for j, c in enumerate(domains) for w in words[k, j]}
        tokens.update(generic[int(e)] for e in extra[k, : extra_count[k]])
        out.append(Profile(id=f"{prefix}{k:06d}", domains=domains, tokens=frozenset(tokens)))
    return out


def reference_top(
    *, taxonomy: Taxonomy, weights: ScoringWeights, organization: Profile, committees: list[Profile]
) -> list[Match]:
    """Top 10 by scoring every pair one at a time and sorting, the obvious way."""
    scored = []
    for c in committees:
        s = score_pair(taxonomy=taxonomy, weights=weights, committee=c, organization=organization)
        if s > 0:
            scored.append(Match(c.id, s))
    scored.sort(key=lambda m: (-m.score_hundredths, m.counterpart_id))
    return scored[:10]


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    """CPU model and core count, for the record."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    versions = f"Python {platform.python_version()}, numpy {np.__version__}"
    return f"{model}, {os.cpu_count()} cores, {versions}"


def main() -> None:
    """Build the directory, time the three measurements, check the fast path against the loop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--committees", type=int, default=1300)
    parser.add_argument("--organizations", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=1000, help="single-party queries to time")
    parser.add_argument("--sample", type=int, default=200, help="organizations checked by loop")
    parser.add_argument("--text", type=float, default=ScoringWeights().text)
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    weights = ScoringWeights(text=args.text)

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at start")
    taxonomy = taxonomy_of(rng)
    vocabulary = {c: [f"{c}:{t}" for t in rng.choice(TERMS, size=12)] for c in taxonomy.codes}
    vocabulary["*"] = [f"*:{k}" for k in range(200)]
    t0 = time.perf_counter()
    committees = profiles_of(
        rng=rng,
        taxonomy=taxonomy,
        prefix="C",
        n=args.committees,
        sizes=[0.35, 0.35, 0.2, 0.1],
        vocabulary=vocabulary,
    )
    organizations = profiles_of(
        rng=rng,
        taxonomy=taxonomy,
        prefix="O",
        n=args.organizations,
        sizes=[0.4, 0.3, 0.15, 0.1, 0.05],
        vocabulary=vocabulary,
    )
    generated = time.perf_counter() - t0
    # Credit by specificity: the shared ancestors' information content counts the directory.
    t0 = time.perf_counter()
    counts = Counter(code for p in (*committees, *organizations) for code in p.domains)
    taxonomy = Taxonomy(parents=taxonomy.parents, counts=counts)
    counting = time.perf_counter() - t0
    print(
        f"directory: {len(taxonomy.codes)} domains, {len(committees)} committees, "
        f"{len(organizations)} organizations, text weight {weights.text} "
        f"(generated in {generated:.1f} s; its domain counts, for the "
        f"specificity credit, in {counting * 1e3:.0f} ms)"
    )

    texts = ["，".join(rng.choice(TERMS, size=12)) + "。" for _ in range(2000)]
    text_tokens(text=texts[0])
    t0 = time.perf_counter()
    for text in texts:
        text_tokens(text=text)
    per_text = (time.perf_counter() - t0) / len(texts)
    print(
        f"tokenizing (jieba + opencc), {len(texts[0])}-character text: {per_text * 1e6:.0f} µs each"
    )

    t0 = time.perf_counter()
    cm = ProfileMatrix(taxonomy=taxonomy, weights=weights, profiles=committees)
    om = ProfileMatrix(taxonomy=taxonomy, weights=weights, profiles=organizations)
    print(
        f"build both matrices: {time.perf_counter() - t0:.2f} s, peak RSS {peak_rss_mib():.0f} MiB"
    )

    n = len(organizations)
    picks = rng.choice(n, size=min(args.single, n), replace=False)
    latencies = []
    for p in picks:
        t0 = time.perf_counter()
        top_matches(party=organizations[int(p)], among=cm, limit=10)
        latencies.append(time.perf_counter() - t0)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    median = statistics.median(latencies)
    print(
        f"top-10 for one organization ({len(latencies)} queries): "
        f"median {median * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms (goal p99 < 5 ms)"
    )

    before = peak_rss_mib()
    t0 = time.perf_counter()
    cpu = time.process_time()
    every = top_matches_all(parties=om, among=cm, limit=10)
    total = time.perf_counter() - t0
    cpu = time.process_time() - cpu
    print(
        f"top-10 for all {n} organizations: {total:.2f} s wall, {cpu:.2f} s CPU (goal < 10 s), "
        f"peak RSS {peak_rss_mib():.0f} MiB, was {before:.0f} MiB before (goal < 2048 MiB)"
    )

    sample = rng.choice(
        len(organizations), size=min(args.sample, len(organizations)), replace=False
    )
    t0 = time.perf_counter()
    expected = {
        int(s): reference_top(
            taxonomy=taxonomy,
            weights=weights,
            organization=organizations[int(s)],
            committees=committees,
        )
        for s in sample
    }
    loop = (time.perf_counter() - t0) / len(sample)
    for s, want in expected.items():
        assert every.matches(row=s) == want, f"batch differs from the loop for row {s}"
        assert top_matches(party=organizations[s], among=cm, limit=10) == want
    print(
        f"reference double loop on {len(sample)} organizations: {loop * 1e3:.1f} ms each; "
        f"identical results; single query {loop / median:.0f}x faster, "
        f"batch {loop / (total / n):.0f}x faster per organization; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )


if __name__ == "__main__":
    main()
