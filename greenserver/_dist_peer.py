"""The program of a peer node: ``python -m greenserver._dist_peer NAME PARENT COOKIE``.

(A module of its own: run as ``-m greenserver.node``, the node module would
be imported twice, as ``__main__`` and as ``greenserver.node``.)
"""

from __future__ import annotations

import sys

from greenserver.node import _peer_main

if __name__ == "__main__":
    _peer_main(*sys.argv[1:4])
