"""Every ```python block of the documentation site (docs/*.md) runs.

A page's blocks run in order in one namespace, like a reader typing them
in: a block with ``>>>`` prompts is a doctest (its outputs are checked,
with ELLIPSIS), any other ```python block runs as a script. A fragment
that is not meant to run is fenced ```py instead. Each page must leave the
node clean (no processes or names left behind), like every other test.

A block whose first line is ``# file: test_NAME.py`` is a test module for
the user's own suite: those of a page are written to a directory and run
by pytest in a fresh interpreter, with the plugin the package installs, and
must all pass.

``mkdocs build --strict`` (``make test``) checks the links and the API
reference; this checks the code.
"""

from __future__ import annotations

import doctest
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
PAGES = sorted(DOCS.glob("**/*.md"))


def blocks(page: Path) -> list[tuple[int, str]]:
    """The ```python blocks of *page*: (line number, code)."""
    text = page.read_text()
    return [
        (text.count("\n", 0, m.start()) + 2, textwrap.dedent(m.group("body")))
        for m in FENCE.finditer(text)
    ]


TEST_FILE = re.compile(r"\A# file: (test_\w+\.py)\n")


def run_page(page: Path, tmp_path: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs.{page.stem}"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    test_files = []
    for line, code in blocks(page):
        where = f"{page.relative_to(DOCS.parent)}:{line}"
        if match := TEST_FILE.match(code):
            (tmp_path / match.group(1)).write_text(code)
            test_files.append(match.group(1))
        elif re.search(r"^>>> ", code, re.M):
            test = parser.get_doctest(code, namespace, where, str(page), line - 1)
            out: list[str] = []
            result = runner.run(test, out=out.append, clear_globs=False)
            namespace.update(test.globs)  # the DocTest ran in a copy
            assert result.failed == 0, f"{where}: doctest failed\n{''.join(out)}"
        else:
            exec(compile(code, where, "exec"), namespace)  # the docs' own code, as a reader runs it
    if test_files:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *test_files],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{page.name}: its test modules failed\n{done.stdout}"


def test_every_page_has_been_found() -> None:
    names = {page.name for page in PAGES}
    assert {"index.md", "getting-started.md", "genserver.md", "testing.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_the_examples_run(page: Path, tmp_path: Path) -> None:
    run_page(page, tmp_path)
