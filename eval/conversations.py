"""`newscite eval-conversations`: does the chat read each question of a conversation right?

A fixed set of conversations (`eval/questions/conversations.jsonl`, over the MultiHop-RAG
corpus's topics and the test fixtures) gives, for the last question of each, the expected
routing: standalone (answered as it is, however short, whatever came before) or follow-up
(it cannot stand alone), and for a follow-up the strings it must carry (the entity and
outlet it refers to) and may list strings it must not carry (an outlet it replaced).

Each question goes through `NewsRAG.standalone`, the chat's own code, in extractive mode
(the LLM rewrite of generate mode is not scored). A case is routed right when
- a standalone question comes back unchanged;
- a follow-up comes back changed, containing every `carry` string and no `not_carry` one
  (case-insensitive).

Outlets are recognised through the index's outlets, so score against an index of the
corpus the set was written on (`--corpus ../shared/data/multihop-rag/corpus.json`, plus
the fixtures and seeds for their cases).

Example:
    newscite eval-conversations --index /tmp/mh
    newscite eval-conversations eval/questions/conversations.jsonl --corpus corpus.json
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from newscite.config import Config

CONVERSATIONS = Path(__file__).resolve().parent / "questions" / "conversations.jsonl"
"""The fixed conversation set."""

Standalone = Callable[[str, Sequence[tuple[str, str]]], str]
"""(question, history) -> the question as retrieval will read it."""


@dataclass(frozen=True)
class Case:
    """A conversation's history, its last question and how that must be read."""

    id: str
    history: tuple[tuple[str, str], ...]
    question: str
    follow_up: bool
    carry: tuple[str, ...] = ()
    not_carry: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What the chain made of a case: the rewritten question and what was wrong ('')."""

    case: Case
    rewritten: str
    problem: str

    @property
    def right(self) -> bool:
        return not self.problem


def load_cases(path: str | Path = CONVERSATIONS) -> list[Case]:
    """The cases of a JSONL file; ValueError naming the line of a malformed one."""
    cases = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            cases.append(Case(id=item["id"], question=item["question"],
                              history=tuple((q, a) for q, a in item["history"]),
                              follow_up=bool(item["follow_up"]),
                              carry=tuple(item.get("carry", ())),
                              not_carry=tuple(item.get("not_carry", ()))))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a conversation case ({exc!r}); each line "
                             f"needs id, history [[question, answer], ...], question and "
                             f"follow_up") from None
    return cases


def score(cases: Sequence[Case], standalone: Standalone) -> list[Outcome]:
    """Each case's outcome under `standalone` (see the module docstring for the rule)."""
    outcomes = []
    for case in cases:
        rewritten = standalone(case.question, list(case.history))
        changed = rewritten != case.question
        folded = rewritten.casefold()
        if changed != case.follow_up:
            problem = ("read as a follow-up" if changed else "read as standalone")
        else:
            missing = [c for c in case.carry if c.casefold() not in folded]
            extra = [c for c in case.not_carry if c.casefold() in folded]
            problem = "; ".join([f"does not carry {', '.join(missing)}"] * bool(missing)
                                + [f"carries {', '.join(extra)}"] * bool(extra))
        outcomes.append(Outcome(case, rewritten, problem))
    return outcomes


def report(outcomes: Sequence[Outcome]) -> str:
    """The routing figure (all, standalone, follow-up) and every case routed wrong."""
    def line(label: str, chosen: list[Outcome]) -> str:
        right = sum(o.right for o in chosen)
        return f"{label:<22}{right:>3} / {len(chosen):<3} routed right"

    lines = [line("all questions", list(outcomes)),
             line("standalone questions", [o for o in outcomes if not o.case.follow_up]),
             line("follow-ups", [o for o in outcomes if o.case.follow_up])]
    wrong = [o for o in outcomes if not o.right]
    if wrong:
        lines.append("\nrouted wrong:")
        lines += [f"- {o.case.id}: {o.problem}\n    {o.case.question!r} -> {o.rewritten!r}"
                  for o in wrong]
    return "\n".join(lines)


def evaluate_conversations(config: Config, path: str | Path = CONVERSATIONS, *,
                           corpus: str | None = None) -> list[Outcome]:
    """Score the conversation set through the configured index's chain (extractive mode);
    `corpus` is ingested into a cached index first, as `newscite eval --corpus` does."""
    from newscite import factory
    from newscite.eval.command import corpus_index
    from newscite.rag.chain import AnswerMode

    cases = load_cases(path)
    if corpus:
        config = corpus_index(config, corpus)
    with factory.open_store(config) as store:
        rag = factory.make_chain(config.with_(answer_mode=AnswerMode.EXTRACTIVE.value), store)
        return score(cases, lambda question, history: rag.standalone(
            question, history, AnswerMode.EXTRACTIVE))
