"""`newscite train-ranker` on a slice of the real MultiHop-RAG corpus (`multihop_index`, its
first 40 dev questions): candidates labelled by the gold facts, each fold fitted without the
chunks that hold its own evidence, and weights the retriever loads."""

import json

import numpy as np
import pytest

from newscite.eval import metrics
from newscite.eval.questions import load_questions
from newscite.eval.train_ranker import CachedPassages, collect, evidence_chunks, rows, train
from newscite.index.store import Store
from newscite.rag.ranker import FEATURES, load_ranker
from newscite.rag.retrieve import Retriever


@pytest.fixture(scope="module")
def questions_file(multihop_slice, tmp_path_factory):
    path = tmp_path_factory.mktemp("rk") / "questions.json"
    path.write_text(json.dumps(multihop_slice[1]))
    return path


@pytest.fixture(scope="module")
def examples(multihop_index, questions_file, embedder):
    with Store.open(multihop_index) as store:
        retriever = Retriever(store, embedder)
        gathered = collect(retriever, load_questions(str(questions_file)))
        texts = {p.chunk_id: p.text for e in gathered for pool in e.pools
                 for p in CachedPassages(store).passages(pool.ids.tolist())}
    return gathered, texts


def test_candidates_are_labelled_by_the_gold_facts_they_hold(examples):
    gathered, texts = examples
    gold = evidence_chunks(gathered)
    assert gold, "no candidate holds a gold fact"
    for example in gathered:
        facts = [metrics.strip_spaces_and_newlines(f) for f in example.question.evidence_facts]
        for chunk_id in evidence_chunks([example]):
            assert any(f in metrics.strip_spaces_and_newlines(texts[chunk_id]) for f in facts)


def test_a_fold_is_fitted_without_the_chunks_of_its_own_evidence(examples):
    """What keeps cross-validation honest when questions share evidence chunks: every
    positive candidate of the held-out questions leaves the training rows, whichever
    training question it came with; nothing else does."""
    gathered, _ = examples
    test, train_part = gathered[:8], gathered[8:]
    held_out = evidence_chunks(test)
    x_all, y_all = rows(train_part)
    x_kept, y_kept = rows(train_part, held_out)
    assert x_all.shape[1] == len(FEATURES)
    shared = sum(int(np.isin(pool.ids, list(held_out)).sum()) for e in train_part
                 if e.question.evidence_facts for pool in e.pools)
    assert shared > 0, "the slice's questions share no evidence chunk: the test proves nothing"
    assert len(y_kept) == len(y_all) - shared
    assert evidence_chunks(train_part) - held_out and y_kept.sum() > 0
    assert rows(gathered, evidence_chunks(gathered))[1].sum() == 0


def test_train_writes_weights_the_retriever_loads_and_a_report(multihop_index, questions_file,
                                                               tmp_path):
    from newscite import factory
    from newscite.config import Config

    config = Config.load({"index": str(multihop_index)}, environ={})
    weights, report = tmp_path / "ranker.json", tmp_path / "cv"
    model = train(config, str(questions_file), weights=weights, report=str(report))
    loaded = load_ranker(weights, factory.read_identity(config))
    assert loaded == model and set(loaded.coef) == set(FEATURES)
    assert loaded.about["n_questions"] == 40
    cross_validated = json.loads((report / "report.json").read_text())
    assert cross_validated["settings"]["cross_validated"].startswith("5 folds")
    assert 0.0 < cross_validated["overall"]["hits@10"]["value"] <= 1.0
