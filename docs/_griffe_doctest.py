"""A griffe extension for the API reference: docstring doctests shown as code.

Our docstrings hold ``>>>`` examples as plain paragraphs, which pytest runs
(``--doctest-modules``). Markdown would read ``>>>`` as nested quotes and
``[...]`` in an output as a link; this fences each such run of lines as a
``pycon`` block before mkdocstrings renders it.
"""

from __future__ import annotations

from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    """Wrap each ``>>>`` example (its prompts and output, up to a blank line) in a fence."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        starts = line.lstrip().startswith(">>>")
        if starts and not inside:
            out.append("```pycon")
            inside = True
        elif inside and not line.strip():
            out.append("```")
            inside = False
        out.append(line)
    if inside:
        out.append("```")
    return "\n".join(out)


class DoctestAsCode(griffe.Extension):
    """Fence the doctests of every docstring griffe loads."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
