from datetime import datetime, timezone

from newscite.index.store import Store
from newscite.types import Filters

from tests.index.test_store_conformance import IDENTITY, _article, _item


def test_outlet_and_date_mask_over_several_outlets_and_one_unknown(tmp_path):
    with Store.open(tmp_path / "idx", identity=IDENTITY, writable=True, create=True) as s:
        s.upsert([_item(_article(1, "Alpha", 1), 0), _item(_article(2, "Beta News", 5), 1),
                  _item(_article(3, None, 9), 2), _item(_article(4, "alpha", 12), 3)])
        chunks = s.catalog.chunks

        def titles(mask):
            return [s.passages([int(i)])[0].title for i in chunks.ids[mask]]

        assert titles(chunks.allowed(Filters(sources=("ALPHA", "beta news")))) == \
            ["Story 1", "Story 2", "Story 4"]
        assert titles(chunks.allowed(Filters(sources=("Gamma",)))) == []
        since = datetime(2024, 1, 4, tzinfo=timezone.utc)
        assert titles(chunks.allowed(Filters(since=since, sources=("Alpha",)))) == ["Story 4"]
        assert chunks.allowed(Filters()) is None
