"""The BEAM twins: ``bench/beam/twins.exs`` run by Debian's ``elixir``.

Each sample is one fresh Erlang VM (``elixir`` starts in about 0.2 s, not
timed): the script warms up, measures once, and prints one JSON line whose
figures come from the same sources as the Python side (a monotonic clock,
``/proc/self``). The VM runs with its defaults (one scheduler per core, as
the issue measured) except ``+P``: its default limit of 262,144 processes is
below the million case's N.

Cases that need it say ``programs="elixir"``; without it they are reported
as "skipped: elixir not installed" and the greenserver cases lose only
their BEAM ratio.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from ._fresh import run_json

ELIXIR = "elixir"
SCRIPT = Path(__file__).resolve().parent / "beam" / "twins.exs"
VM_FLAGS = "+P 2000000"
TWINS = ("call", "cast", "start_link", "idle_mem", "million")


def twin(name: str, n: int, *, timeout: float = 600) -> dict[str, Any]:
    """Run the BEAM twin *name* with *n* in a fresh VM; return its figures.

    Raises:
        ValueError: *name* is not one of ``TWINS``.
        RuntimeError: elixir is missing, or the run failed (its stderr is
            in the message).
    """
    if name not in TWINS:
        raise ValueError(f"BEAM twin must be one of {', '.join(TWINS)}; got {name!r}")
    exe = shutil.which(ELIXIR)
    if exe is None:
        raise RuntimeError(f"{ELIXIR} not installed (Debian: apt-get install elixir)")
    doc: dict[str, Any] = run_json(
        [exe, "--erl", VM_FLAGS, str(SCRIPT), name, str(n)], timeout=timeout
    )
    if doc.get("case") != name or doc.get("n") != n:
        raise RuntimeError(f"BEAM twin {name} {n} answered for another run: {doc!r}")
    return doc


def version() -> str | None:
    """Return ``"Elixir 1.14.0 (OTP 25)"`` or the like; ``None`` without elixir."""
    exe = shutil.which(ELIXIR)
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "-e", 'IO.write("#{System.version()} #{System.otp_release()}")'],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"Elixir {out[0]} (OTP {out[1]})" if len(out) == 2 else None
