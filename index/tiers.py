"""When to merge the segments of an append-only index (keyword segments, dense deltas).

Every flush appends one small segment. Left alone, their number would grow with every write
(each one costs a file and a lookup per query); merging everything on every write would cost
the size of the index. The policy here is the log-structured one search engines use: a
segment's tier is the order of magnitude of its size (base FANIN; small ones share the tier
of MIN_SEGMENT), and FANIN consecutive
segments of one tier merge into one of the next. Each chunk is so rewritten about
log_FANIN(MAX_MERGED) times over its life, whatever the size of the index, and a merge never
produces a segment above MAX_MERGED chunks, which bounds the cost of any single write. Larger
segments stay as they are (only `reindex`/`repair` rebuild everything), except that one whose
chunks are mostly deleted is rewritten alone to drop them.

Example:
    >>> plan_merge([50_000, 900, 800, 700, 600, 500, 400, 300, 200, 150, 120], dead=[0] * 11)
    (1, 11)
"""

from __future__ import annotations

import math

FANIN = 10  # segments of one tier merged together: ~log10 rewrites per chunk, few segments
MAX_MERGED = 100_000  # largest merge result in chunks: ~1.5 s of merging on 2 loaded cores
DEAD_SHARE = 0.5  # a segment with more deleted chunks than this is rewritten without them
# Segments smaller than this count as this size: flushes of a few chunks or a few hundred
# share one tier and merge every FANIN flushes, instead of straddling tiers and piling up.
MIN_SEGMENT = 100
MIN_RUN = FANIN // 2  # fewest segments a capped merge takes: fewer would rewrite too often


def tier(size: int) -> int:
    """The order of magnitude of a segment of `size` chunks (base FANIN, at least that of
    MIN_SEGMENT)."""
    return int(math.log(max(size, MIN_SEGMENT), FANIN) + 1e-9)


def plan_merge(sizes: list[int], dead: list[int]) -> tuple[int, int] | None:
    """The consecutive segments [start, end) to merge next, or None when none need to.

    `sizes` counts each segment's chunks (deleted ones too) and `dead` its deleted chunks,
    oldest segment first. In the newest run of at least FANIN consecutive segments of one
    tier, the newest FANIN merge, or when their live chunks exceed MAX_MERGED the newest
    that fit (at least MIN_RUN of them: large segments are left as they are). Otherwise a
    segment that is mostly deleted is rewritten alone.
    """
    live = [size - gone for size, gone in zip(sizes, dead)]
    end = len(sizes)
    while end >= FANIN:
        start = end - 1
        while start > 0 and tier(sizes[start - 1]) == tier(sizes[end - 1]):
            start -= 1
        if end - start >= FANIN:
            first = end - FANIN
            while sum(live[first:end]) > MAX_MERGED and end - first > MIN_RUN:
                first += 1
            if sum(live[first:end]) <= MAX_MERGED:
                return first, end
        end = start
    for i, (size, gone) in enumerate(zip(sizes, dead)):
        if size and gone > DEAD_SHARE * size:
            return i, i + 1
    return None
