"""Structured reports: the one module that talks to structlog.

The logger is looked up each time a report is emitted, so a test's
``structlog.testing.capture_logs()`` (or a configuration made after import)
sees every report.

Until the application configures structlog (``structlog.is_configured()``),
reports use structlog's default pipeline with two changes, so that a library
is quiet and discreet by default, as Elixir's Logger is: debug-level reports
(``progress_report``) are dropped, and tracebacks are plain. structlog's
default renderer prints each frame's local variables when ``rich`` is
installed, which would show the state that a server's ``format_status``
hides. Once the application calls ``structlog.configure``, its configuration
rules alone.
"""

from __future__ import annotations

import logging
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


# structlog's default processors, with a renderer that shows no locals.
_UNCONFIGURED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.StackInfoRenderer(),
    structlog.dev.set_exc_info,
    structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False),
    structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
]
_UNCONFIGURED_WRAPPER = structlog.make_filtering_bound_logger(logging.INFO)


def _logger() -> Any:
    if structlog.is_configured():
        return structlog.get_logger(LOGGER_NAME)
    # What get_logger(LOGGER_NAME) is, with our processors and level on top
    # of the (unconfigured) defaults.
    return structlog.wrap_logger(
        None,
        processors=_UNCONFIGURED_PROCESSORS,
        wrapper_class=_UNCONFIGURED_WRAPPER,
        logger_factory_args=(LOGGER_NAME,),
    )


def enabled(level: int) -> bool:
    """Return whether a report at *level* (``logging.ERROR``...) would be shown.

    Check it before building a report's fields: a report that nothing would
    show then costs nothing (a supervisor starting a million children pays
    nothing for a million progress reports). While structlog is unconfigured
    that is info and above; once configured, structlog's filtering loggers
    say so through ``is_enabled_for``; any other wrapper is asked nothing.
    """
    if not structlog.is_configured():
        return level >= logging.INFO
    is_enabled_for = getattr(structlog.get_config()["wrapper_class"], "is_enabled_for", None)
    return is_enabled_for is None or bool(is_enabled_for(None, level))


def error(event: str, **fields: Any) -> None:
    """Emit an error-level report."""
    if enabled(logging.ERROR):
        _logger().error(event, **fields)


def warning(event: str, **fields: Any) -> None:
    """Emit a warning-level report."""
    if enabled(logging.WARNING):
        _logger().warning(event, **fields)


def debug(event: str, **fields: Any) -> None:
    """Emit a debug-level report (dropped while structlog is unconfigured)."""
    if enabled(logging.DEBUG):
        _logger().debug(event, **fields)


def exc_info_of(reason: object) -> BaseException | None:
    """Return *reason* when it is an exception (for ``exc_info=``), else None."""
    return reason if isinstance(reason, BaseException) else None


@contextmanager
def capture() -> Iterator[list[MutableMapping[str, Any]]]:
    """Collect every report emitted inside the block (for ``greenserver.testing``)."""
    with structlog.testing.capture_logs() as events:
        yield events
