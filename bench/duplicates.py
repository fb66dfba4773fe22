"""Character bigrams against jieba's word segmentation for "is this the same need?" (not a
test): prints precision, recall and F1 at each threshold for both, and the time per pair.

    .venv/bin/python bench/duplicates.py [--pairs 400] [--seed 17]

The pairs are tests/orders/duplicate_pairs.py's synthetic ones (half duplicates, all pairs
within one category). Both methods score a pair by the Dice coefficient of its two token
sets; jieba's tokens drop punctuation and one-character function words (的, 了, 我...).
The choice and the figures are in docs/decisions.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from orders.duplicates import dice, tokens  # noqa: E402
from tests.orders.duplicate_pairs import pairs, precision_recall  # noqa: E402

STOP = set("的了我你您他她们在是有和就都也要很吗呢吧啊一个")


def jieba_tokens(text: str) -> set[str]:
    import jieba

    return {w for w in jieba.lcut(text) if w.strip() and w not in STOP and any(ch.isalnum() for ch in w)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    started = time.perf_counter()
    jieba.initialize()
    print(f"jieba dictionary loaded in {time.perf_counter() - started:.2f} s")
    data = pairs(args.pairs, args.seed)
    print(f"{len(data)} pairs, {sum(d for _a, _b, d in data)} duplicates")
    for name, cut in (("characters+bigrams", tokens), ("jieba", jieba_tokens)):
        started = time.perf_counter()
        scores = [(dice(cut(a), cut(b)), dup) for a, b, dup in data]
        per_pair_us = (time.perf_counter() - started) / len(data) * 1e6
        best = max(
            ((*precision_recall(scores, t / 100), t / 100) for t in range(5, 95, 5)),
            key=lambda pr: 2 * pr[0] * pr[1] / (pr[0] + pr[1] or 1),
        )
        print(f"\n{name}: {per_pair_us:.0f} µs a pair; best F1 at threshold {best[2]:.2f}")
        print("threshold  precision  recall  F1")
        for t in range(10, 65, 5):
            p, r = precision_recall(scores, t / 100)
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            print(f"   {t / 100:.2f}      {p:.3f}    {r:.3f}  {f1:.3f}")


if __name__ == "__main__":
    main()
