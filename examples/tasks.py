"""Tasks: run work in processes, await it, fan it out, supervise it.

Run it: ``python examples/tasks.py``.
"""

from __future__ import annotations

import greenserver as gs


def square(n: int) -> int:
    return n * n


def parse(text: str) -> int:
    if not text.isdigit():
        # An exit reason, not an exception: no crash_report (the supervisor reports it).
        raise gs.Exit(("bad_input", text))
    return int(text)


def main() -> None:
    # Task.spawn is Elixir's Task.async: linked to us, awaited with result().
    task = gs.Task.spawn(square, 12)
    print("square(12) ->", task.result(timeout=1.0))

    # Task.map is Task.async_stream: at most max_concurrency tasks at once,
    # outcomes in input order.
    for outcome in gs.Task.map(square, range(5), max_concurrency=2):
        print("map ->", outcome)

    # Under a TaskSupervisor, spawn_nolink tasks are not linked to us: a task
    # that dies comes back as ("exit", reason) instead of taking us with it.
    sup = gs.TaskSupervisor.start_link()
    tasks = [gs.TaskSupervisor.spawn_nolink(sup, parse, text) for text in ("7", "x", "35")]
    for text, t in zip(("7", "x", "35"), tasks, strict=True):
        print(f"parse({text!r}) ->", t.yield_(timeout=1.0))
    gs.TaskSupervisor.stop(sup)


if __name__ == "__main__":
    main()
