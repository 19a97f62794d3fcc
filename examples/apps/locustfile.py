"""Locust users that talk to greenserver processes (no HTTP involved).

    locust -f locustfile.py --headless -u 50 -r 50 -t 5s

Every user calls a *shared* ``Tally`` server, started once per Locust
process by an application, and a *per-user* ``Session`` server that it
``start_link``s in ``on_start`` and stops in ``on_stop``. The application
stops at ``test_stop``; at ``quitting`` the file prints how many servers
are left (none).
"""

from __future__ import annotations

import time
from typing import Any

from locust import User, constant, events, task
from locust.env import Environment

import greenserver as gs


class Tally(gs.GenServer[int]):
    """The shared server: counts every user's calls."""

    def init(self, arg: Any) -> gs.Ok[int]:
        return gs.Ok(0)

    def handle_call(self, request: Any, from_: gs.Ref, state: int) -> gs.Reply[int]:
        return gs.Reply(state + 1, state + 1)


class TallyApp(gs.Application):
    def start(self, arg: Any) -> gs.Pid | None:
        tally = gs.ChildSpec("tally", start=(Tally.start_link, (None,), {"name": "tally"}))
        return gs.Supervisor.start_link([tally])


class Session(gs.GenServer[int]):
    """One user's own server: counts that user's calls."""

    def init(self, arg: Any) -> gs.Ok[int]:
        return gs.Ok(0)

    def handle_call(self, request: Any, from_: gs.Ref, state: int) -> gs.Reply[int]:
        return gs.Reply(state + 1, state + 1)


@events.test_start.add_listener
def start_the_application(environment: Environment, **kwargs: Any) -> None:
    TallyApp.ensure_started()


@events.test_stop.add_listener
def stop_the_application(environment: Environment, **kwargs: Any) -> None:
    calls = gs.GenServer.call("tally", "total")
    TallyApp.stop()
    print(f"greenserver: shared calls {calls}", flush=True)


@events.quitting.add_listener
def count_what_is_left(environment: Environment, **kwargs: Any) -> None:
    # Servers, supervisors and application masters run a class; Locust's own
    # greenlets that used greenserver are processes too, and some still run.
    infos = [gs.info(pid) for pid in gs.processes()]
    left = [info for info in infos if info is not None and isinstance(info["current"], type)]
    print(f"greenserver: servers left {len(left)}", flush=True)


class GreenUser(User):
    wait_time = constant(0.01)

    def on_start(self) -> None:
        # Linked to this user's greenlet: should the greenlet die, the session does too.
        self.session = Session.start_link(None)

    def on_stop(self) -> None:
        # Locust stops a user by killing its greenlet, but User.run() catches
        # that GreenletExit, runs on_stop and returns: the greenlet ends
        # "normal", which links ignore. So the user stops its session here.
        gs.GenServer.stop(self.session)

    @task
    def call_both(self) -> None:
        started = time.perf_counter()
        exception: Exception | None = None
        try:
            gs.GenServer.call(self.session, "hit")
            gs.GenServer.call("tally", "hit")
        except gs.CallError as exc:
            exception = exc
        self.environment.events.request.fire(
            request_type="greenserver",
            name="session + tally",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=exception,
            context={},
        )
