"""The deduplicator finds the same copies as datasketch's MinHashLSH (its reference), with
compact storage: exact copies, near-copies of real fixture text, and LSH candidates
compared one by one with MinHashLSH.query over signatures that share bands."""

import json

import numpy as np
from datasketch import MinHash, MinHashLSH

from newscite.index.dedup import MIN_PENDING, Deduplicator
from newscite.types import Article

from tests.conftest import FIXTURES


def _fixture_articles() -> list[Article]:
    records = [json.loads(line) for line in (FIXTURES / "news.jsonl").read_text().splitlines()]
    return [Article.create(title=r["title"], body=r["body"], source=r.get("source"),
                           url=r["url"]) for r in records]


def test_exact_and_near_copies_of_real_articles_are_found():
    dedup = Deduplicator()
    articles = _fixture_articles()
    for article in articles:
        dedup.add(article.id, article.fingerprint, dedup.signature(article.body))
    original = articles[0]
    exact = Article.create(title="Copy", body=original.body, url="https://copy.example/1")
    assert dedup.exact_copy_of(exact) == original.id
    near = Article.create(title="Edited", url="https://copy.example/2",
                          body=original.body + " A line the agency added at the end.")
    assert dedup.near_copy_of(near.id, dedup.signature(near.body)) == original.id
    other = Article.create(title="Other", url="https://copy.example/3",
                           body="Completely different words about a harbour festival and boats.")
    assert dedup.near_copy_of(other.id, dedup.signature(other.body)) is None


def test_a_signature_read_back_is_the_one_stored():
    dedup = Deduplicator()
    articles = _fixture_articles()
    minhash, other = dedup.signature(articles[1].body), dedup.signature(articles[2].body)
    again = dedup.from_bytes(dedup.to_bytes(minhash))
    assert np.array_equal(again.hashvalues, minhash.hashvalues)
    assert again.jaccard(minhash) == 1.0
    assert again.jaccard(other) == minhash.jaccard(other) < 1.0


def _reference(values: np.ndarray) -> MinHash:
    """The datasketch MinHash of stored signature values."""
    return MinHash(num_perm=len(values), seed=1, scheme="affine64", hashvalues=values)


def _related_signatures(rng, count: int, dedup: Deduplicator) -> list[np.ndarray]:
    """Random signatures, many of them copies of earlier ones with some values changed, so
    that some share whole bands and some do not."""
    signatures = []
    for n in range(count):
        if n and rng.random() < 0.6:
            values = signatures[rng.integers(len(signatures))].copy()
            changed = rng.choice(dedup.num_perm, rng.integers(1, 60), replace=False)
            values[changed] = rng.integers(0, 2**63, len(changed), dtype=np.uint64)
        else:
            values = rng.integers(0, 2**63, dedup.num_perm, dtype=np.uint64)
        signatures.append(values)
    return signatures


def test_candidates_and_choice_equal_minhashlsh_also_after_forgetting():
    rng = np.random.default_rng(7)
    dedup = Deduplicator()
    reference = MinHashLSH(threshold=dedup.threshold, num_perm=dedup.num_perm)
    signatures = _related_signatures(rng, 3 * MIN_PENDING, dedup)  # sorted and pending keys
    kept = {}
    for n, values in enumerate(signatures):
        dedup.add(f"a{n}", f"fingerprint{n}", dedup.from_bytes(values.tobytes()))
        reference.insert(f"a{n}", _reference(values))
        kept[f"a{n}"] = _reference(values)
    for n in range(0, len(signatures), 3):  # forget a third, then re-add some of them
        dedup.forget(f"a{n}")
        reference.remove(f"a{n}")
        del kept[f"a{n}"]
    for n in range(0, len(signatures), 9):
        dedup.add(f"a{n}", f"fingerprint{n}", dedup.from_bytes(signatures[n].tobytes()))
        reference.insert(f"a{n}", _reference(signatures[n]))
        kept[f"a{n}"] = _reference(signatures[n])
    queries = signatures[::7] + _related_signatures(rng, 200, dedup)
    shared = 0
    for values in queries:
        query = _reference(values)
        expected = reference.query(query)
        found = {dedup._ids[row] for row in dedup._candidates(values)}
        assert found == set(expected)
        shared += len(expected) > 1
        best = max(expected, key=lambda c: (query.jaccard(kept[c]), c)) if expected else None
        assert dedup.near_copy_of("query", query) == best
    assert shared > 20  # the comparison covered queries with several candidates


def test_forgotten_rows_are_dropped_when_most_are_gone():
    rng = np.random.default_rng(3)
    dedup = Deduplicator()
    signatures = _related_signatures(rng, 2 * MIN_PENDING, dedup)
    for n, values in enumerate(signatures):
        dedup.add(f"a{n}", f"f{n}", dedup.from_bytes(values.tobytes()))
    for n in range(len(signatures) - 10):
        dedup.forget(f"a{n}")
    last = dedup.from_bytes(signatures[-1].tobytes())
    assert dedup.near_copy_of("query", last) == f"a{len(signatures) - 1}"
    dedup._sort_keys()
    assert dedup._count == 10  # only the live rows are left
    assert dedup.near_copy_of("query", last) == f"a{len(signatures) - 1}"
