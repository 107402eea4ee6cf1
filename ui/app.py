"""The newscite chat: a Gradio 6 web page over `Backend` (started by `newscite serve`).

Tabs:
- Chat: the conversation (answers stream in, then the checked answer replaces the stream),
  filters for the next questions, and beside the chat the sources of every answer (newest
  open, each marker [n] links to its entry) with the coverage timeline of one answer;
- Add articles: upload news files; they are ingested with a progress bar (articles done
  of all, and the time left) and can be asked about at once;
- Index: what the index holds and, with `newscite serve --watch FEEDS`, each watched feed's
  last refresh (re-read every FEEDS_REFRESH seconds while the page is open).

Scripts ask through one API endpoint, /ask (`newscite.ui.api`: the question, optional
filters, the answer and its citations as data); the page's own handlers are private.

Every failure becomes a short message on the page (the details go to the log). The
server binds 127.0.0.1 unless told otherwise, asks for a login when NEWSCITE_USER and
NEWSCITE_PASSWORD are both set, caps uploads at MAX_UPLOAD and sends no analytics.

Example:
    >>> config = Config.load({"index": "newscite-index"})
    >>> build_app(config).queue().launch(**launch_options(config))   # = serve(config)
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Mapping

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio reads it on import

import gradio as gr  # noqa: E402

from newscite.config import Config  # noqa: E402
from newscite.types import Answer, Final, Notice, Retracted, Text  # noqa: E402
from newscite.ui import render  # noqa: E402
from newscite.ui.api import FAILED, MAX_PASSAGES, ask_endpoint, parse_filters  # noqa: E402
from newscite.ui.backend import Backend, Unavailable  # noqa: E402
from newscite.ui.render import Turn  # noqa: E402
from newscite.ui.timeline import timeline_figure  # noqa: E402
from newscite.ui.uploads import EXTENSIONS, UploadProgress  # noqa: E402

log = logging.getLogger(__name__)

MAX_UPLOAD = "50mb"
# The Source Sans Pro bundled with Gradio draws a wrong bold "A"; system fonts draw it right.
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
                "sans-serif"]
FEEDS_REFRESH = 30  # seconds between updates of the index panel while feeds are watched
EMPTY_QUESTION = "Type a question about the news first, or pick one of the examples."

# Gradio gives every block an inline `overflow: visible`, hence `!important`: without it
# the sources of a long answer ran out of their column, under the timeline and the footer.
CSS = """
#sources-panel { max-height: min(640px, 70vh); overflow-y: auto !important;
  overscroll-behavior: contain; }
#sources-panel details.turn { border: 1px solid var(--border-color-primary);
  border-radius: 8px; margin-bottom: 8px; padding: 4px 10px; }
#sources-panel summary { cursor: pointer; font-weight: 600; padding: 4px 0; }
#sources-panel ol.sources { list-style: none; padding: 0; margin: 0; }
#sources-panel li.source { border-top: 1px solid var(--border-color-primary); padding: 8px 0;
  scroll-margin-top: 12px; }
#sources-panel li.source:target { background: var(--color-accent-soft); }
#sources-panel .source-head { font-size: 0.9em; }
#sources-panel .marker { font-weight: 700; color: var(--color-accent); }
#sources-panel .outlet { font-weight: 600; }
#sources-panel .title { margin: 2px 0 4px; }
#sources-panel blockquote.passage { margin: 4px 0 !important; padding-left: 8px;
  font-size: 0.9em; border-left: 3px solid var(--border-color-primary); }
#sources-panel a { padding: 0; }
#sources-panel mark { background: #fde68a; color: #111827; padding: 0 1px; }
#sources-panel .also { font-size: 0.85em; color: var(--body-text-color-subdued); }
.answer a.cite { font-weight: 700; text-decoration: none; }
.status { padding: 4px 2px; color: var(--body-text-color-subdued); }
.status.problem, .problem { color: var(--error-text-color, #b91c1c); }
.notice { color: var(--error-text-color, #b91c1c); padding: 2px; }
.note { color: var(--body-text-color-subdued); font-size: 0.9em; border-left: 3px solid
  var(--color-accent); padding-left: 6px; margin-bottom: 6px; }
table.overview th { text-align: left; padding-right: 16px; vertical-align: top; }
ul.outlets { columns: 2; margin: 0; }
.count { color: var(--body-text-color-subdued); }
"""


def auth_from_env(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(user, password) when NEWSCITE_USER and NEWSCITE_PASSWORD are both set, else None."""
    user, password = environ.get("NEWSCITE_USER", ""), environ.get("NEWSCITE_PASSWORD", "")
    if bool(user) != bool(password):
        log.warning("set both NEWSCITE_USER and NEWSCITE_PASSWORD to require a login; "
                    "serving without one")
    return (user, password) if user and password else None


def launch_options(config: Config, environ: Mapping[str, str] | None = None) -> dict:
    """Keyword arguments of `Blocks.launch` for `config` (address, login, limits, look)."""
    return {"server_name": config.host, "server_port": config.port,
            "auth": auth_from_env(os.environ if environ is None else environ),
            "max_file_size": MAX_UPLOAD, "css": CSS, "show_error": False, "ssr_mode": False,
            "theme": gr.themes.Default(primary_hue="blue", font=SYSTEM_FONTS)}


def plot(answer: Answer | None) -> gr.Plot:
    """The timeline of `answer`, hidden when there is nothing dated to show."""
    figure = timeline_figure(answer) if answer else None
    return gr.Plot(value=figure, visible=figure is not None)


def build_app(config: Config, backend: Backend | None = None) -> gr.Blocks:
    """The chat page over `config`'s index: layout, then behaviour, then wiring."""
    backend = backend or Backend(config)
    # Uploaded files stay in Gradio's cache only for an hour.
    with gr.Blocks(title="newscite", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as demo:
        turns_state = gr.State([])
        gr.Markdown("## newscite: ask the news\nEvery answer cites its sources.")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                status = gr.HTML(elem_id="status")
                with gr.Accordion("Filters for the next questions", open=False,
                                  elem_id="filters"):
                    with gr.Row():
                        since = gr.Textbox(label="From", placeholder="YYYY-MM-DD",
                                           elem_id="since", min_width=120)
                        until = gr.Textbox(label="To", placeholder="YYYY-MM-DD",
                                           elem_id="until", min_width=120)
                        outlets = gr.Dropdown(label="Outlets (none = all)", multiselect=True,
                                              choices=[], elem_id="outlets", scale=2)
                        mode = gr.Radio(backend.modes, label="Answer mode", elem_id="mode",
                                        value=backend.rag.mode.value if backend.rag
                                        else backend.modes[0])
                        k = gr.Slider(1, MAX_PASSAGES, value=min(config.k, MAX_PASSAGES),
                                      step=1, label="Passages to retrieve", elem_id="k")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            elem_id="chat", height=520, label="Conversation",
                            latex_delimiters=[], buttons=[], feedback_options=None,
                            placeholder="Ask a question about the news in the index, or "
                                        "pick an example.")
                        with gr.Row(equal_height=True):
                            ask_box = gr.Textbox(show_label=False, scale=6, elem_id="question",
                                                 placeholder="Ask about the news…",
                                                 max_lines=4, container=False)
                            ask = gr.Button("Ask", variant="primary", scale=1, min_width=80,
                                            elem_id="ask")
                            clear_button = gr.Button("Clear", scale=1, min_width=80,
                                                     elem_id="clear")
                        notice = gr.HTML(elem_id="notice")
                    with gr.Column(scale=2, min_width=320):
                        picker = gr.Dropdown(label="Show the sources and timeline of answer",
                                             choices=[], elem_id="picker", visible=False)
                        sources = gr.HTML(render.sources_html([]), elem_id="sources-panel")
                        timeline = gr.Plot(label="Coverage timeline", show_label=False,
                                           elem_id="timeline", visible=False)
            with gr.Tab("Add articles", id="add"):
                gr.Markdown(f"Upload news files ({', '.join(EXTENSIONS)}; up to {MAX_UPLOAD} "
                            f"each). Each record needs a title and a body; outlet, date and "
                            f"URL are used when present. Articles already in the index are "
                            f"skipped, copies are merged.")
                files = gr.File(file_count="multiple", file_types=list(EXTENSIONS),
                                label="News files", elem_id="upload")
                add = gr.Button("Add to the index", variant="primary", elem_id="add-button")
                report = gr.HTML(elem_id="ingest-report")
            with gr.Tab("Index", id="index"):
                overview = gr.HTML(elem_id="overview")

        def page_state():
            """What depends on the index: refreshed on each page load and after each upload."""
            state = backend.overview()
            return (render.status_html(state), render.overview_html(state),
                    gr.Dropdown(choices=[name for name, _ in state.outlets]),
                    gr.Chatbot(examples=[{"text": q} for q in backend.example_questions()]))

        def respond(question, turns, since, until, outlets, mode, k):
            """Stream the answer to `question` into the chat, then show its sources."""
            question = (question or "").strip()
            if not question:
                yield {notice: render.notice_html(EMPTY_QUESTION)}
                return
            try:
                filters = parse_filters(since, until, outlets)
            except ValueError as exc:
                yield {notice: render.notice_html(str(exc))}
                return
            history = [(t.question, t.answer.text) for t in turns]
            shown = render.chat_messages(turns) + [
                {"role": "user", "content": render.message_html(question)}]
            waiting = shown + [{"role": "assistant", "content": "…"}]
            yield {chatbot: waiting, ask_box: "", notice: ""}
            streamed, notes, answer, message = "", [], None, FAILED
            try:
                for event in backend.ask(question, history, filters, mode, int(k)):
                    match event:
                        case Text():
                            streamed += event.text
                            content = render.notices_html(notes) + render.message_html(streamed)
                            yield {chatbot: shown + [{"role": "assistant", "content": content}]}
                        case Retracted():  # withdrawn: the final answer replaces it
                            streamed = ""
                            yield {chatbot: waiting}
                        case Notice():  # shown above the answer, in the chat
                            notes.append(event.message)
                        case Final():
                            answer = event.answer
            except (Unavailable, ValueError) as exc:
                message = str(exc)
            except Exception:  # noqa: BLE001 - the page shows a message, the log the details
                log.exception("answering %r failed", question)
            if answer is None:  # the question goes back into the box, to retry
                yield {chatbot: render.chat_messages(turns), ask_box: question,
                       notice: render.notice_html(message)}
                return
            turns = turns + [Turn(question, answer, tuple(notes))]
            yield {chatbot: render.chat_messages(turns), turns_state: turns,
                   sources: render.sources_html(turns),
                   picker: gr.Dropdown(choices=render.answer_choices(turns), value=len(turns),
                                       visible=True),
                   timeline: plot(answer), notice: ""}

        def show_answer(turns, number):
            """Open answer `number`'s sources and plot its timeline."""
            if not turns or not number:
                return render.sources_html(turns), plot(None)
            return render.sources_html(turns, int(number)), plot(turns[int(number) - 1].answer)

        def pick_example(event: gr.SelectData) -> str:
            return event.value["text"]

        def clear():
            return ([], [], render.sources_html([]),
                    gr.Dropdown(choices=[], value=None, visible=False), plot(None), "", "")

        def add_files(paths, progress=gr.Progress()):
            """Ingest the uploaded files; the bar counts the articles done, with the time
            left once it can be estimated (`UploadProgress`)."""
            if not paths:
                return (render.notice_html("Choose one or more files first."), *page_state())
            progress(0, desc="Reading the files")
            try:
                summary, refused = backend.add_files(paths, UploadProgress(progress))
            except Unavailable as exc:
                return (render.notice_html(str(exc)), *page_state())
            except Exception:  # noqa: BLE001 - the page shows a message, the log the details
                log.exception("ingesting %d uploaded files failed", len(paths))
                return (render.notice_html("The files could not be added; the details are in "
                                           "the server log."), *page_state())
            return (render.ingest_html(summary, refused), *page_state())

        refreshed = [status, overview, outlets, chatbot]
        answer_inputs = [ask_box, turns_state, since, until, outlets, mode, k]
        answer_outputs = [chatbot, turns_state, sources, picker, timeline, ask_box, notice]
        # The page's handlers take and return components' values, HTML included: they are
        # private (off the API page, refused to API clients); scripts use /ask instead.
        page_only = {"api_visibility": "private"}
        demo.load(page_state, outputs=refreshed, **page_only)
        if backend.watching:  # watched feeds bring articles while the page is open

            def index_panels():
                state = backend.overview()
                return render.status_html(state), render.overview_html(state)

            gr.Timer(FEEDS_REFRESH).tick(index_panels, outputs=[status, overview], queue=False,
                                         **page_only)
        ask.click(respond, answer_inputs, answer_outputs, concurrency_limit=4, **page_only)
        ask_box.submit(respond, answer_inputs, answer_outputs, concurrency_limit=4, **page_only)
        chatbot.example_select(pick_example, None, ask_box, queue=False, **page_only).then(
            respond, answer_inputs, answer_outputs, **page_only)
        picker.input(show_answer, [turns_state, picker], [sources, timeline], **page_only)
        clear_button.click(clear, None, answer_outputs, **page_only)
        chatbot.clear(clear, None, answer_outputs, **page_only)
        add.click(add_files, files, [report, *refreshed], concurrency_limit=1,
                  **page_only).then(lambda: None, None, files, **page_only)
        gr.api(ask_endpoint(backend), api_name="ask", concurrency_limit=4)
    return demo


def serve(config: Config, watch: str | None = None) -> None:
    """Serve the chat until interrupted; with `watch` (a feed list file), keep those feeds
    fresh in the background, every `config.watch_every`."""
    options = launch_options(config)
    backend = Backend(config)
    # Load the embedding model (torch, sentence-transformers, the weights: seconds) while the
    # page is built and served, rather than when the first question comes.
    threading.Thread(target=lambda: backend.embedder.model, name="load-model",
                     daemon=True).start()
    stop = backend.watch(watch, config.watch_seconds) if watch else None
    demo = build_app(config, backend)
    log.info("serving the chat on http://%s:%d%s", config.host, config.port,
             " (login required)" if options["auth"] else "")
    try:
        demo.queue().launch(**options)
    finally:
        if stop is not None:
            stop.set()
