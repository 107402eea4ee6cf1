"""Pure rendering for the chat page: answers, sources, index overview and ingest reports.

Everything here turns newscite objects into HTML strings and touches no I/O, so it is tested
without a browser. Article text is untrusted: every piece of it goes through `escape`, which
also neutralises Markdown and template syntax, because chat messages pass through Gradio's
Markdown renderer and the sources panel through a JS template.

Anchors tie the two sides together: marker [n] of answer t links to `#src-t-n`, the id of
that source's entry in the sources panel, so clicking a marker brings its source into view.

Example:
    >>> turn = Turn("How much will the tram cost?", answer)
    >>> message_html(answer.text, turn=1, numbers={1})
    '<div class="answer">... <a class="cite" href="#src-1-1">&#91;1&#93;</a></div>'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Collection, Iterable, Sequence

from newscite.index.watch import FeedReport
from newscite.text import MARKER
from newscite.types import Answer, Coverage, IngestSummary, Passage, Rejection

# Characters that HTML, Markdown, KaTeX or Gradio's JS templates would interpret.
_SPECIAL = {c: f"&#{ord(c)};" for c in "&<>\"'`\\*_[](){}#+-!|~$=:"}
_EXCERPT_CHARS = 600


@dataclass
class Turn:
    """One question of the conversation, the checked answer it got, and what the reader was
    told about how it was answered (the question was cut, no articles in the date range,
    the LLM failed), shown above the answer."""

    question: str
    answer: Answer
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    """What the sources panel shows for marker [n]: the passage and its cited spans.

    `cited` is False for the closest coverage listed with a "not found" answer.
    """

    n: int
    passage: Passage
    spans: tuple[tuple[int, int], ...] = ()
    cited: bool = True


@dataclass
class Overview:
    """What the index holds, for the index panel; `problem` says why there is no index;
    `feeds` are the watched feeds' last refreshes."""

    articles: int = 0
    chunks: int = 0
    outlets: list[tuple[str, int]] = field(default_factory=list)
    first_date: datetime | None = None
    last_date: datetime | None = None
    model: str = ""
    reference_date: datetime | None = None
    index_path: str = ""
    llm: str = ""
    problem: str = ""
    feeds: list[FeedReport] = field(default_factory=list)


def escape(text: str) -> str:
    """`text` as inert HTML: every character that any renderer could interpret becomes an
    entity, so article text shows exactly as written and never becomes markup."""
    return "".join(_SPECIAL.get(c, c) for c in text)


def anchor(turn: int, n: int) -> str:
    """Id of the sources-panel entry for marker [n] of answer `turn` (both from 1)."""
    return f"src-{turn}-{n}"


def sources_of(answer: Answer) -> list[Source]:
    """One entry per marker, in marker order, with every span cited from its passage.

    An answer without citations (greeting, "not found") lists its passages as uncited
    closest coverage.
    """
    if not answer.citations:
        return [Source(n, p, cited=False) for n, p in enumerate(answer.passages, 1)]
    spans: dict[int, list[tuple[int, int]]] = {}
    passages: dict[int, Passage] = {}
    for citation in answer.citations:
        passages.setdefault(citation.n, citation.passage)
        spans.setdefault(citation.n, [])
        if citation.span:
            spans[citation.n].append(tuple(citation.span))
    return [Source(n, passages[n], tuple(spans[n])) for n in sorted(passages)]


def message_html(text: str, turn: int | None = None, numbers: Collection[int] = ()) -> str:
    """A chat message as escaped HTML; markers in `numbers` link to answer `turn`'s sources.

    The whole message is one HTML block without blank lines, so the chat's Markdown
    renderer leaves it alone; line breaks become <br>.
    """
    parts, position = [], 0
    for match in MARKER.finditer(text):
        parts.append(escape(text[position:match.start()]))
        parts.append("".join(_marker_html(int(n), turn, numbers)
                             for n in match.group(1).split(",")))
        position = match.end()
    parts.append(escape(text[position:]))
    body = "".join(parts).replace("\r\n", "\n").replace("\n", "<br>")
    return f'<div class="answer">{body}</div>'


def _marker_html(n: int, turn: int | None, numbers: Collection[int]) -> str:
    label = f"&#91;{n}&#93;"
    if turn is None or n not in numbers:
        return label
    return f'<a class="cite" href="#{anchor(turn, n)}">{label}</a>'


def notices_html(notices: Iterable[str]) -> str:
    """The notices of an answer, each on its own line above it ('' when there are none)."""
    return "".join(f'<div class="note">{escape(text)}</div>' for text in notices)


def chat_messages(turns: Sequence[Turn]) -> list[dict]:
    """The conversation as Gradio chat messages, markers linked to their sources, each
    answer under its notices."""
    messages = []
    for turn_number, turn in enumerate(turns, 1):
        numbers = {s.n for s in sources_of(turn.answer) if s.cited}
        messages.append({"role": "user", "content": message_html(turn.question)})
        messages.append({"role": "assistant", "content": notices_html(turn.notices)
                         + message_html(turn.answer.text, turn_number, numbers)})
    return messages


def highlighted(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` escaped, with each span (merged where they overlap) wrapped in <mark>.

    A long passage is cut to the text around its first span, so the quote stays readable.
    """
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    low, high = 0, len(text)
    if len(text) > _EXCERPT_CHARS:
        centre = merged[0][0] if merged else 0
        low = max(0, min(centre - _EXCERPT_CHARS // 3, len(text) - _EXCERPT_CHARS))
        high = max(low + _EXCERPT_CHARS, merged[-1][1] if merged else 0)
    parts, position = ["…" if low else ""], low
    for start, end in merged:
        if end <= low or start >= high:
            continue
        start, end = max(start, low), min(end, high)
        parts += [escape(text[position:start]), "<mark>", escape(text[start:end]), "</mark>"]
        position = end
    parts.append(escape(text[position:high]) + ("…" if high < len(text) else ""))
    return "".join(parts)


def link(url: str | None, label_html: str) -> str:
    """`label_html` linked to `url` in a new tab; plain when the URL is not http(s)."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return label_html
    return (f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">'
            f"{label_html}</a>")


def _day(value: datetime | None) -> str:
    return value.date().isoformat() if value else "date unknown"


def _coverage_html(coverage: Sequence[Coverage]) -> str:
    if not coverage:
        return ""
    outlets = ", ".join(f"{link(c.url, escape(c.source or 'unknown outlet'))} "
                        f"({_day(c.published_at)})" for c in coverage)
    return f'<div class="also">Also reported by: {outlets}</div>'


def source_html(turn: int, source: Source) -> str:
    """One entry of the sources panel: outlet, date, linked title, quote, other outlets.

    An outlet or date the article does not have is left out rather than shown as
    "Unknown outlet · date unknown" (a folder of plain-text files has neither)."""
    p = source.passage
    label = f"&#91;{source.n}&#93;" if source.cited else "closest coverage"
    known = ([f'<span class="outlet">{escape(p.source)}</span>'] if p.source else []) + (
        [f'<span class="date">{escape(p.date)}</span>'] if p.published_at else [])
    return (f'<li class="source" id="{anchor(turn, source.n)}">'
            f'<div class="source-head"><span class="marker">{label}</span> '
            f'{" · ".join(known)}</div>'
            f'<div class="title">{link(p.url, escape(p.title or "Untitled"))}</div>'
            f'<blockquote class="passage">{highlighted(p.text, source.spans)}</blockquote>'
            f"{_coverage_html(p.also_reported_by)}</li>")


def sources_html(turns: Sequence[Turn], shown: int | None = None) -> str:
    """The sources panel: every answer's sources, newest first; answer `shown` is open
    (default: the latest), the others are collapsed but still reachable by their markers."""
    if not turns:
        return ('<p class="hint">Each answer\'s sources appear here: outlet, date, title '
                "and the quoted passage. Click a marker such as [1] in an answer to jump to "
                "its source.</p>")
    shown = shown or len(turns)
    blocks = []
    for number in range(len(turns), 0, -1):
        turn = turns[number - 1]
        sources = sources_of(turn.answer)
        items = "".join(source_html(number, s) for s in sources) or \
            '<li class="hint">No sources: this answer cites nothing.</li>'
        is_open = " open" if number == shown else ""
        blocks.append(f'<details class="turn" id="turn-{number}"{is_open}>'
                      f"<summary>Answer {number}: {escape(_shorten(turn.question, 70))}</summary>"
                      f'<ol class="sources">{items}</ol></details>')
    return "".join(blocks)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def answer_choices(turns: Sequence[Turn]) -> list[tuple[str, int]]:
    """(label, turn number) pairs for the picker of which answer's sources to show."""
    return [(f"{n}. {_shorten(t.question, 60)}", n) for n, t in enumerate(turns, 1)]


def status_html(overview: Overview) -> str:
    """One line above the chat: what can be asked about, or why nothing can."""
    if overview.problem:
        return (f'<div class="status problem">{escape(overview.problem)}<br>Add articles in '
                f"the <b>Add articles</b> tab to start.</div>")
    text = f"{overview.articles} articles" + (
        f" from {len(overview.outlets)} outlets" if overview.outlets else "") + (
        f", {_day(overview.first_date)} to {_day(overview.last_date)}"
        if overview.first_date and overview.last_date else "")
    return f'<div class="status">{escape(text)}.</div>'


def overview_html(overview: Overview) -> str:
    """The index panel: counts, outlets, date span, embedding model, reference date, LLM,
    and the watched feeds' last refreshes."""
    if overview.problem:
        return status_html(overview) + (feeds_html(overview.feeds) if overview.feeds else "")
    outlets = "".join(f"<li>{escape(name)} <span class=\"count\">({count})</span></li>"
                      for name, count in overview.outlets)
    rows = [("Index", escape(overview.index_path)),
            ("Articles", str(overview.articles)), ("Chunks", str(overview.chunks)),
            ("Dates", escape(f"{_day(overview.first_date)} to {_day(overview.last_date)}")),
            ("Embedding model", escape(overview.model)),
            ("Reference date", escape(_day(overview.reference_date)) +
             " <span class=\"count\">(“now” for questions such as “last week”)</span>"),
            ("Answers", escape(overview.llm)),
            (f"Outlets ({len(overview.outlets)})", f'<ul class="outlets">{outlets}</ul>')]
    if overview.feeds:
        rows.append((f"Watched feeds ({len(overview.feeds)})", feeds_html(overview.feeds)))
    cells = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<table class="overview">{cells}</table>'


def feeds_html(reports: Sequence[FeedReport]) -> str:
    """Each watched feed's last refresh: when, what it brought, and every failure."""
    items = []
    for report in reports:
        when = (report.refreshed_at.strftime("%Y-%m-%d %H:%M UTC") if report.refreshed_at
                else "not yet")
        seen = "not modified" if report.not_modified else f"{report.entries} entries"
        errors = "".join(f"<li>{escape(error)}</li>" for error in report.errors)
        items.append(f'<li class="feed">{link(report.url, escape(report.title or report.url))}'
                     f' <span class="count">(last refresh {escape(when)}: {report.new} new, '
                     f"{report.changed} changed, {escape(seen)})</span>"
                     + (f'<ul class="problem">{errors}</ul>' if errors else "") + "</li>")
    return f'<ul class="feeds">{"".join(items)}</ul>'


def ingest_html(summary: IngestSummary, skipped: Sequence[Rejection] = ()) -> str:
    """The report after adding files: counts, then every file or record that failed.

    `skipped` are files refused before ingestion (e.g. unsupported type).
    """
    problems = list(skipped) + list(summary.rejections)
    usable = summary.added + summary.updated + summary.unchanged + summary.duplicates \
        + summary.merged
    if usable:
        head = (f'<p class="ok">Added {summary.added} new and updated {summary.updated} '
                f"articles ({summary.unchanged} unchanged, {summary.duplicates + summary.merged}"
                f" merged as copies of stored articles); {summary.chunks_embedded} passages "
                f"indexed. They can be asked about now.</p>")
    else:
        head = ('<p class="problem">Nothing was added. Upload JSON, JSONL, TXT, MD, HTML or '
                "RSS/XML files whose records have at least a title and a body.</p>")
    if not problems:
        return head
    items = "".join(f"<li><b>{escape(r.origin)}</b>: {escape(r.reason)}"
                    + (f" <i>({escape(r.hint)})</i>" if r.hint else "") + "</li>"
                    for r in problems)
    return (f'{head}<p class="problem">{len(problems)} file(s) or record(s) could not be '
            f'used:</p><ul class="rejections">{items}</ul>')


def notice_html(text: str) -> str:
    """A friendly message under the question box ('' hides it)."""
    return f'<div class="notice">{escape(text)}</div>' if text else ""
