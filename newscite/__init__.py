"""newscite: ask the news a question, get a short answer whose every claim cites its passage.

The package's parts, from the bottom up (imports only point down this list; import-linter
checks it, see pyproject.toml):

    types, text, config   shared typed objects, text rules and settings (import nothing here)
    index                 the write path: load, clean, dedup, chunk, embed, store
    rag                   the read path: understand, retrieve, answer, check citations
    factory               the one place that builds stores, retrievers, chains from a Config
    integrations          LangChain retriever and runnable
    ui, eval              the Gradio chat; evaluation and benchmarks
    cli                   the `newscite` command

Importing it makes idle OpenMP threads sleep instead of spin (`OMP_WAIT_POLICY=PASSIVE`,
unless set already). torch and FAISS each load their own OpenMP runtime, which reads the
setting once, when it loads, so it is set here, before either is imported. On a machine
whose cores are busy with other work, spinning threads wait on each other: embedding one
short question took 0.3-0.7 s with 2 spinning threads and 15-40 ms with sleeping ones
(docs/performance.md).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
