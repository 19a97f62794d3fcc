"""Structured reports: the one module that talks to structlog.

The logger is looked up each time a report is emitted, so a test's
``structlog.testing.capture_logs()`` (or a configuration made after import)
sees every report.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

LOGGER_NAME = "greenserver"

_repr = reprlib.Repr()
_repr.maxstring = 200
_repr.maxother = 200
_repr.maxlist = 20
_repr.maxdict = 20
_repr.maxtuple = 20
_repr.maxlevel = 4


def short(value: object) -> str:
    """Return a repr of *value* cut to a readable length."""
    return _repr.repr(value)


def _logger() -> Any:
    return structlog.get_logger(LOGGER_NAME)


def error(event: str, **fields: Any) -> None:
    """Emit an error-level report."""
    _logger().error(event, **fields)


def warning(event: str, **fields: Any) -> None:
    """Emit a warning-level report."""
    _logger().warning(event, **fields)


def debug(event: str, **fields: Any) -> None:
    """Emit a debug-level report."""
    _logger().debug(event, **fields)


def exc_info_of(reason: object) -> BaseException | None:
    """Return *reason* when it is an exception (for ``exc_info=``), else None."""
    return reason if isinstance(reason, BaseException) else None


@contextmanager
def capture() -> Iterator[list[MutableMapping[str, Any]]]:
    """Collect every report emitted inside the block (for ``greenserver.testing``)."""
    with structlog.testing.capture_logs() as events:
        yield events
