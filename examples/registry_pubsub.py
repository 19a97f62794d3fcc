"""Local pub/sub with a duplicate ``gs.Registry``.

Subscribers register themselves under the topics they want; a publisher
dispatches each message to whoever is registered under its topic at that
moment. A subscriber that exits leaves every topic with no clean-up code.

Run it: ``python examples/registry_pubsub.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import greenserver as gs

REGISTRY = "pubsub"


def subscriber(name: str, topics: list[str], ready: gs.Pid) -> None:
    """Register under each topic, collect what is published, report when asked."""
    for topic in topics:
        gs.Registry.register(REGISTRY, topic, name)
    gs.send(ready, ("subscribed", gs.self()))
    received: list[tuple[str, object]] = []
    while True:
        match gs.receive():
            case ("publish", str(topic), payload):
                received.append((topic, payload))
            case ("report", gs.Pid() as reply_to):
                gs.send(reply_to, ("received", gs.self(), received))
                return  # leaving: the registry drops our entries


def publish(topic: str, payload: object) -> int:
    """Send *payload* to every subscriber of *topic*; return how many there were."""
    reached = 0

    def deliver(entries: list[tuple[gs.Pid, object]]) -> None:
        nonlocal reached
        for pid, _name in entries:
            gs.send(pid, ("publish", topic, payload))
            reached += 1

    gs.Registry.dispatch(REGISTRY, topic, deliver)
    return reached


def tagged(tag: str, pid: gs.Pid) -> Callable[[object], bool]:
    """Match a message ``(tag, pid, ...)``, for a selective receive."""
    return lambda msg: type(msg) is tuple and msg[:2] == (tag, pid)


def down_of(ref: gs.Ref) -> Callable[[object], bool]:
    """Match the ``Down`` of the monitor *ref*."""
    return lambda msg: type(msg) is gs.Down and msg.ref is ref


def main() -> dict[str, list[tuple[str, object]]]:
    """Run the demo; return what each subscriber received."""
    gs.Registry.start_link("duplicate", name=REGISTRY)
    me = gs.self()
    wanted = {"alice": ["news"], "bob": ["news", "sports"], "carol": ["sports"]}
    names: dict[gs.Pid, str] = {}
    for name, topics in wanted.items():
        pid = gs.spawn(subscriber, name, topics, me)
        gs.receive(tagged("subscribed", pid), timeout=5)
        names[pid] = name

    print("subscribers of 'news':", [value for _pid, value in gs.Registry.lookup(REGISTRY, "news")])
    for topic, payload in [
        ("news", "rain tomorrow"),
        ("sports", "3-1"),
        ("news", "markets up"),
        ("weather", "nobody listens"),
    ]:
        print(f"published {payload!r} on {topic!r} to {publish(topic, payload)} subscriber(s)")

    received: dict[str, list[tuple[str, object]]] = {}
    for pid, name in names.items():
        ref = gs.monitor(pid)
        gs.send(pid, ("report", me))
        answer = gs.receive(tagged("received", pid), timeout=5)
        assert isinstance(answer, tuple)
        got: list[tuple[str, object]] = answer[2]
        received[name] = got
        gs.receive(down_of(ref), timeout=5)  # gone, and so are its entries
        print(f"{name} received {got}")

    print("entries left after the subscribers exited:", gs.Registry.count(REGISTRY))
    gs.GenServer.stop(REGISTRY)
    return received


if __name__ == "__main__":
    main()
