"""Flask under gunicorn's gevent worker, with a greenserver application per worker.

    gunicorn -k gevent -w 2 -b 127.0.0.1:8000 flask_app:app

Nothing starts at import, so ``--preload`` (import in gunicorn's master, then
fork) is safe too: each worker starts its own application on its first
request, after the fork, and stops it cleanly when it exits (SIGTERM, or
``--max-requests`` recycling).
"""

from __future__ import annotations

import os

from counter_app import Counter, counter_app
from flask import Flask

app = Flask(__name__)


@app.get("/count")
def count() -> dict[str, int]:
    counter_app()
    return {"worker": os.getpid(), "count": Counter.increment()}


@app.get("/crash")
def crash() -> dict[str, int]:
    counter_app()
    Counter.crash()  # raises gs.ServerExitError: Flask answers 500
    return {"worker": os.getpid()}
