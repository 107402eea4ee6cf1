"""The write path: loading, cleaning, deduplicating, chunking, embedding and storing news.

Importing it makes idle OpenMP threads sleep instead of spin (`OMP_WAIT_POLICY=PASSIVE`,
unless set already). torch and FAISS each load their own OpenMP runtime, which reads the
setting once, when it loads, so it is set here, before either is imported. On a machine
whose cores are busy with other work, spinning threads wait on each other: embedding one
short question took 0.3-0.7 s with 2 spinning threads and 15-40 ms with sleeping ones
(docs/performance.md).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
