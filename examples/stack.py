"""The Stack server from Elixir's GenServer docs, with a client API.

Run it: ``python examples/stack.py``.
"""

from __future__ import annotations

from typing import Any

import greenserver as gs


class Stack(gs.GenServer[list[Any]]):
    """A stack kept in a server process: push is a cast, pop is a call."""

    # --- client API: callers never see the message format ---

    @classmethod
    def push(cls, server: object, element: object) -> None:
        gs.GenServer.cast(server, ("push", element))

    @classmethod
    def pop(cls, server: object) -> Any:
        return gs.GenServer.call(server, "pop")

    # --- callbacks: run inside the server process ---

    def init(self, elements: list[Any]) -> gs.Ok[list[Any]]:
        return gs.Ok(list(elements))

    def handle_call(
        self, request: Any, from_: gs.Ref, state: list[Any]
    ) -> gs.Reply[list[Any]] | gs.Stop[list[Any]]:
        if request == "pop":
            if not state:
                return gs.Reply(None, state)
            head, *tail = state
            return gs.Reply(head, tail)
        return super().handle_call(request, from_, state)  # type: ignore[return-value]

    def handle_cast(self, request: Any, state: list[Any]) -> gs.NoReply[list[Any]]:
        match request:
            case ("push", element):
                return gs.NoReply([element, *state])
        return super().handle_cast(request, state)  # type: ignore[return-value]


def main() -> None:
    pid = Stack.start_link(["hello"], name="stack")  # a Pid: init never returns Ignore
    print("pop ->", Stack.pop(pid))
    Stack.push("stack", "world")
    print("pop ->", Stack.pop("stack"))
    gs.GenServer.stop("stack")
    print("stopped; whereis('stack') ->", gs.whereis("stack"))


if __name__ == "__main__":
    main()
