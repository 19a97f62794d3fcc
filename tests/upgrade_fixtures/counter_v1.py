"""Counter, version 1: the code that tests/test_code_upgrade.py upgrades while it runs.

The test copies this source into a module of its own under a temporary
directory, starts servers from it, then overwrites that module with
``counter_v2.py`` and reloads it. This file is never imported as it is.
"""

from __future__ import annotations

from typing import Any, ClassVar

import greenserver as gs


class Counter(gs.GenServer[Any]):
    """The state is an int: ``("add", n)`` adds to it, ``"get"`` returns it."""

    # A class attribute, not a module global: a reload replaces the module's
    # globals under the feet of the old class, but not the old class itself.
    VSN: ClassVar[str] = "1"

    def init(self, start: int) -> gs.Ok[Any]:
        return gs.Ok(start)

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> Any:
        if request == "get":
            return gs.Reply(state, state)
        if request == "vsn":
            return gs.Reply(self.VSN, state)
        return super().handle_call(request, from_, state)

    def handle_cast(self, request: Any, state: Any) -> Any:
        match request:
            case ("add", int(n)):
                return gs.NoReply(state + n)
        return super().handle_cast(request, state)
