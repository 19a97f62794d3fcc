"""Counter, version 2: what tests/test_code_upgrade.py reloads in place of version 1.

The state becomes a dict that also keeps a unit and the history of
additions; ``code_change`` migrates a version 1 int. This file is never
imported as it is.
"""

from __future__ import annotations

from typing import Any, ClassVar

import greenserver as gs


class Counter(gs.GenServer[Any]):
    """The state is ``{"count": int, "unit": str, "history": [int, ...]}``."""

    VSN: ClassVar[str] = "2"

    def init(self, start: int) -> gs.Ok[Any]:
        return gs.Ok({"count": start, "unit": "items", "history": []})

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> Any:
        if request == "get":
            return gs.Reply(f"{state['count']} {state['unit']}", state)
        if request == "history":
            return gs.Reply(state["history"], state)
        if request == "vsn":
            return gs.Reply(self.VSN, state)
        return super().handle_call(request, from_, state)

    def handle_cast(self, request: Any, state: Any) -> Any:
        match request:
            case ("add", int(n)):
                count = state["count"] + n
                return gs.NoReply({**state, "count": count, "history": [*state["history"], n]})
        return super().handle_cast(request, state)

    def code_change(self, old_vsn: object, state: Any, extra: Any) -> gs.Ok[Any]:
        if old_vsn == "1" and isinstance(state, int):
            return gs.Ok({"count": state, "unit": extra["unit"], "history": []})
        raise ValueError(f"cannot upgrade from version {old_vsn!r}")
