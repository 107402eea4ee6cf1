"""Whether a chat question is a follow-up, and what of the conversation it must carry.

A question is rewritten with the conversation only when it cannot stand alone, never
because it is short ("What did OpenAI do?" is a new question, whatever came before):
- ellipsis: it continues the previous turn ("and the semi-final?", "what about Germany?",
  "what else ...", "who else ..."), or it is a bare fragment with no name of its own
  ("Why?", "How much?", "The semi-final?");
- an unresolved reference: a personal pronoun (he, it, they, them, ...) with no name before
  it in the question ("Did OpenAI say it would ...?" resolves its "it"; an outlet does not
  resolve one: "What did The Verge say about it?" still needs the conversation); a
  demonstrative used as a pronoun ("Why did that happen?", "that deal"); "the same"; or,
  in a question that names nothing, a bare "the company", "the team", "the trial", ...

A follow-up carries what it refers to, from the turns it continues (newest first, back to
the first turn that stood alone): the outlets and days those questions named, the names
they named (their content words when they named none), and, when a question asked for
someone ("who won ...?"), the first name its answer gave ("South Africa"): the likely
referent of the follow-up's "they". Not every word of the previous question: words that
only steered the previous question ("how", "much", "cost") would mislead retrieval.

Example:
    >>> rewrite = FollowUps(lambda text: ()).rewrite
    >>> rewrite("Who did they beat in the semi-final?",
    ...         [("Who won the Rugby World Cup final?", "South Africa won the final [1].")])
    'Who did they beat in the semi-final? (Rugby World Cup South Africa)'
    >>> rewrite("How many points were Everton deducted?", [("What did OpenAI do?", "...")])
    'How many points were Everton deducted?'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from newscite.rag.answer import NOT_FOUND
from newscite.rag.citations import content_words
from newscite.rag.query import _DAY
from newscite.text import MARKER

Outlets = Callable[[str], tuple[str, ...]]
"""The index's outlets named in a text (`Retriever.understand(text).sources`)."""

_WORD = re.compile(r"[A-Za-z0-9][\w’'\-.&]*(?<![.])")
_CONTRACTION = re.compile(r"\b(what|who|where|when|how|that|it|there|here)[’']s\b", re.I)
_MIXED_CASE = re.compile(r"[a-z]+[A-Z]")
# Words that are capitalised only because they open a sentence or are grammar, never names.
_FUNCTION_WORDS = frozenset("""a an the this that these those some any all each every no
i you he she it we they me him her us them my your his its our their mine yours theirs
who whom whose what which where when why how is are was were be been being am do does did
has have had will would can could should shall may might must and but or nor so also then
plus yet in on at for from of to with about after before since by during into over under
between against without within per via as than if whether not tell show give list explain
describe summarise summarize find name compare please according more much many any other
else really yes ok okay hey well again now just only same there here""".split())
_CALENDAR = frozenset("""january february march april may june july august september october
november december jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday
thursday friday saturday sunday""".split())
_NAME_LINKS = frozenset({"of", "de", "van", "von", "&"})
# Capitalised roles, not names: "CEO Sam Altman" names Sam Altman.
_TITLES = frozenset("""ceo cfo cto coo president prime minister chancellor secretary senator
governor judge coach manager chairman chairwoman chair founder mr mrs ms dr sir king queen
prince pope general""".split())
_PRONOUNS = frozenset("""he she it they him her them his its their hers theirs himself herself
itself themselves""".split())
_DEMONSTRATIVES = frozenset({"this", "that", "these", "those"})
# After these a "that" introduces a clause ("suggest that ...") rather than pointing back.
_CLAUSE_WORDS = frozenset("""say says said report reports reported reporting claim claims
claimed suggest suggests suggested indicate indicates indicated believe believes believed think
thinks argue argues argued show shows showed announce announced confirm confirmed deny denied
mean means find found state states stated warn warned note noted allege alleged fact so such
ensure imply implies hope hoped expect expected know knew true likely possible""".split())
# "this week", "that season": time, not a reference to the conversation.
_TIME_NOUNS = frozenset("""week weekend month year season morning afternoon evening night
day days time summer winter spring autumn fall quarter decade century""".split())
# Verbs right after a demonstrative make it a pronoun: "did that happen", "was this".
_DEMONSTRATIVE_VERBS = frozenset("""happen happened happens mean means matter matters affect
affects change changes is was are were will would could should can did does do has have had
cost costs lead led""".split())
# Nouns that, after "the"/"that"/"this" in a question naming nothing, point back to a thing
# the conversation named ("How much did the company raise?").
_ANAPHORIC_NOUNS = frozenset("""company firm startup team club side player manager coach
trial case deal match game final semi-final semifinal report article story plan project
plant line bill law ruling verdict jury judge court agreement vote tournament event
announcement lawsuit decision move merger acquisition offer person man woman group band
album film show""".split())
_CONTINUATION = re.compile(r"^\s*(and|but|also|plus|then|so what|what about|how about|"
                           r"what else|anything else|tell me more|more on|same for|"
                           r"what more|any more)\b", re.I)
_ELSE = re.compile(r"\belse\b", re.I)
_FRAGMENT_WORDS = frozenset("""why when where who whom whose what which how much many long
often so exactly really then now else again more on not""".split())
_QUESTION_OPENERS = frozenset("""is are was were do does did has have had will would can could
should tell show list explain summarise summarize describe define compare""".split())
# "Is it true that ...", "it was reported that ...": an "it" that points at nothing.
_IMPERSONAL = frozenset("""true false likely unlikely possible reported known clear confirmed
expected said rumoured rumored""".split())
_FRAGMENT_LENGTH = 3  # "How much exactly?": at most this many words and no name is a fragment
_ASKS_FOR_SOMEONE = re.compile(r"^\s*(and\s+)?(who|whom|which|what (company|team|club|"
                               r"country|nation|player|person|firm|startup|organi[sz]ation|"
                               r"group|side))\b", re.I)
# An answer line's "Outlet (2023-10-05): " or "(date unknown) " lead and its quote marks.
_ANSWER_LEAD = re.compile(r"^\s*[-*•]?\s*(?:[^:“\"(]{0,80}\((?:\d{4}-\d{2}-\d{2}|date "
                          r"unknown)\)\s*:?\s*)?[“\"]?")


@dataclass(frozen=True)
class Route:
    """How a question is read: `follow_up` with `why` (the word or form that needs the
    conversation; "" when it stands alone)."""

    follow_up: bool
    why: str = ""


@dataclass(frozen=True)
class _Token:
    text: str
    lower: str
    position: int


def _tokens(text: str) -> list[_Token]:
    """The words of `text`, with "what's" read as "what is" (a question, not a fragment)."""
    text = _CONTRACTION.sub(r"\1 is", text)
    return [_Token(m.group(), m.group().casefold(), n)
            for n, m in enumerate(_WORD.finditer(text))]


def names(text: str) -> list[tuple[int, str]]:
    """(word position, name) of the capitalised names in `text` ("Rugby World Cup",
    "OpenAI", "FTX"), in order. A sentence's capitalised first word counts only when it
    could not be grammar (mixed case such as "OpenAI", or followed by more of the name)."""
    tokens = _tokens(text)
    found: list[tuple[int, str]] = []
    run: list[_Token] = []
    for index, token in enumerate(tokens + [None]):
        if token is not None and (run and token.lower in _NAME_LINKS
                                  or _is_name_word(tokens, index)):
            if run or token.lower not in _TITLES:
                run.append(token)
            continue
        while run and run[-1].lower in _NAME_LINKS:
            run.pop()
        if run:
            found.append((run[0].position, " ".join(t.text for t in run)))
        run = []
    return found


def _is_name_word(tokens: list[_Token], index: int) -> bool:
    token = tokens[index]
    if _MIXED_CASE.match(token.text):  # iPhone, eBay
        return True
    if not token.text[0].isupper() or token.lower in _FUNCTION_WORDS or \
            token.lower in _CALENDAR:
        return False
    if index > 0:
        return True
    # The first word is capitalised anyway: a name when its case says so or the name goes on.
    return any(c.isupper() for c in token.text[1:]) or len(tokens) > 1 and \
        _is_name_word(tokens, 1)


class FollowUps:
    """Routes chat questions (standalone or follow-up) and rewrites follow-ups with what
    they carry (see the module docstring). `outlets` finds the index's outlets in a text."""

    def __init__(self, outlets: Outlets):
        self.outlets = outlets

    def route(self, question: str) -> Route:
        """Whether `question` needs the conversation, and why."""
        if match := _CONTINUATION.match(question) or _ELSE.search(question):
            opening = match.group().strip().lower()
            return Route(True, f"continues the conversation ('{opening}')")
        tokens = _tokens(question)
        found = names(question)
        named = [p for p, _ in found]
        subjects = [p for p, name in found if not self._is_outlet(name)] + _asked_about(tokens)
        outlets = [p for p in named if p not in subjects]
        if not subjects and not self.outlets(question) and _is_fragment(tokens):
            return Route(True, "a fragment with no subject of its own")
        for index, token in enumerate(tokens):
            last = index + 1 == len(tokens)
            # An outlet named before resolves "do they present ..." or "their report", but
            # not the last word of "What did The Verge say about it?".
            antecedents = subjects + ([] if last else outlets)
            # A name before resolves a pronoun ("OpenAI said it") and a demonstrative that
            # names a thing ("... and do these claims"), not one that stands for a thing
            # ("Did OpenAI confirm that?", "Why did that happen?").
            if token.lower in _PRONOUNS:
                resolved = any(p < token.position for p in antecedents)
            else:
                resolved = not last and any(p < token.position for p in named) and \
                    tokens[index + 1].lower not in _DEMONSTRATIVE_VERBS
            if token.lower in _PRONOUNS | _DEMONSTRATIVES and not resolved and \
                    _refers(tokens, index):
                return Route(True, f"'{token.text}' refers to something not named in it")
            if token.lower == "same" and index and tokens[index - 1].lower == "the" and (
                    not any(p < token.position for p in subjects + outlets)
                    or last or tokens[index + 1].lower in ("for", "thing", "things")):
                return Route(True, "'the same' refers to something not named in it")
        if not subjects and not self.outlets(question):
            for before, token in zip(tokens, tokens[1:]):
                if before.lower == "the" and token.lower in _ANAPHORIC_NOUNS:
                    return Route(True, f"'the {token.text}' is not named in it")
        return Route(False)

    def carried(self, history: Sequence[tuple[str, str]]) -> list[str]:
        """What a follow-up to `history` carries: outlets, days, names (or topic words) of
        the turns it continues, and the person or team a "who" answer named."""
        carried: list[str] = []
        for question, answer in reversed(history):
            own = [name for _, name in names(question) if not self._is_outlet(name)]
            carried += list(self.outlets(question)) + _DAY.findall(question)
            carried += own or [w for w in re.findall(r"[\w’'\-]+", question)
                               if content_words(w) and w.casefold() not in _FUNCTION_WORDS]
            if _ASKS_FOR_SOMEONE.match(question):
                carried += self._answered_name(answer, question)[:1]
            if not self.route(question).follow_up:
                break
        return list(dict.fromkeys(carried))

    def rewrite(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """`question` as it stands when it can, else completed from `history`."""
        if not history or not self.route(question).follow_up:
            return question
        return self.complete(question, history)

    def complete(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """The follow-up `question` with what it carries appended in brackets; an outlet it
        names replaces the outlets of the conversation ("and what did TechCrunch say?")."""
        own_outlets = bool(self.outlets(question))
        extra = [c for c in self.carried(history) if c.casefold() not in question.casefold()
                 and not (own_outlets and self._is_outlet(c))]
        return f"{question} ({' '.join(extra)})" if extra else question

    def _is_outlet(self, name: str) -> bool:
        return bool(self.outlets(name))

    def _answered_name(self, answer: str, question: str) -> list[str]:
        """The names in `answer`, in order, that are not outlets or the question's own
        names (an abstention names nobody): who the answer said it was."""
        if answer.strip().startswith(NOT_FOUND):
            return []
        asked = question.casefold()
        found = []
        for line in MARKER.sub("", answer).splitlines():
            text = _ANSWER_LEAD.sub("", line, count=1)
            found += [name for _, name in names(text)
                      if name.casefold() not in asked and not self._is_outlet(name)]
        return found


def _is_fragment(tokens: list[_Token]) -> bool:
    """A few words that are not a question of their own: "Why?", "Who won?", "The
    semi-final?"; but "What is inflation?" is one."""
    if not tokens or len(tokens) > _FRAGMENT_LENGTH:
        return False
    if all(t.lower in _FRAGMENT_WORDS for t in tokens):
        return True
    if tokens[0].lower in _FRAGMENT_WORDS:  # "Who won?": a question word and a verb
        return len(tokens) == 2 and tokens[1].lower not in _FUNCTION_WORDS
    return tokens[0].lower not in _QUESTION_OPENERS


def _asked_about(tokens: list[_Token]) -> list[int]:
    """Where the question's own subject is, when it asks for one ("Which company, known for
    its ...", "What are the entities that ... their", "Who is the individual who ... his"):
    later pronouns may refer to it."""
    words = [t.lower for t in tokens]
    if words[:1] in (["which"], ["what"]):
        start = 1
    elif words[:1] == ["who"] and words[1:2] in (["is"], ["was"], ["are"], ["were"]):
        start = 2  # "Who is the individual ...", not "Who did they beat"
    else:
        return []
    for token in tokens[start:4]:
        if token.lower not in ("is", "are", "was", "were", "the", "a", "an"):
            return [token.position] if token.lower not in _FUNCTION_WORDS else []
    return []


def _refers(tokens: list[_Token], index: int) -> bool:
    """Whether the pronoun or demonstrative at `index` points at the conversation: not an
    "it" of "is it true that", not a "this week", not the "that" of "said that ..." or of
    "the company that ...", but "Who said that?", "Why did that happen?", "that deal"."""
    word = tokens[index].lower
    after = tokens[index + 1].lower if index + 1 < len(tokens) else None
    before = tokens[index - 1].lower if index > 0 else None
    if word in _PRONOUNS:
        return not (word == "it" and after is not None and (
            after in _IMPERSONAL or after in ("is", "was") and index + 2 < len(tokens)
            and tokens[index + 2].lower in _IMPERSONAL))
    if after is None:
        return True
    if after in _TIME_NOUNS:
        return False
    if word == "that" and before is not None and (before in _CLAUSE_WORDS or
                                                  before not in _FUNCTION_WORDS):
        return False
    return after in _DEMONSTRATIVE_VERBS or after in _CLAUSE_WORDS or \
        after.removesuffix("s") in _ANAPHORIC_NOUNS or after in ("one", "ones")
