"""Set-up as a new user meets it: `make demo`, `make test`'s system packages, mypy.

These run the real tools (make, sh, pip, mypy) as subprocesses.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYSDEPS = ROOT / "tools" / "sysdeps.sh"


def _make_dry_run(target: str) -> str:
    # -B: every target out of date, so the whole dependency chain is printed.
    done = subprocess.run(
        ["make", "-n", "-B", "-C", str(ROOT), target],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


class TestMakeDemo:
    def test_needs_no_system_packages(self) -> None:
        """`make demo` needs only python3: nothing in its chain runs apt-get or sudo."""
        commands = _make_dry_run("demo")

        assert "examples/demo.py" in commands
        assert "sysdeps" not in commands
        assert "apt-get" not in commands
        assert "sudo" not in commands

    def test_make_test_does_install_them(self) -> None:
        commands = _make_dry_run("test")

        assert "tools/sysdeps.sh redis-cli:redis-tools" in commands


class TestSysdeps:
    def _run(self, *pairs: str, path: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/bin/sh", str(SYSDEPS), *pairs],
            capture_output=True,
            text=True,
            env={"PATH": path},
            check=False,
        )

    def test_present_commands_do_nothing(self) -> None:
        done = self._run("sh:dash", path="/usr/bin:/bin")

        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")

    def test_without_apt_it_stops_with_what_to_install(self, tmp_path: Path) -> None:
        """No apt-get on PATH: exit 1 and a list of commands and packages."""
        done = self._run(
            "redis-cli:redis-tools",
            "redis-benchmark:redis-tools",
            "redis-server:redis-server",
            path=str(tmp_path),  # an empty directory: no command at all
        )

        assert done.returncode == 1
        assert done.stdout == ""
        assert done.stderr.splitlines() == [
            "sysdeps: these commands are missing: redis-cli redis-benchmark redis-server",
            "Install them with your system package manager, then run make again.",
            "Debian/Ubuntu packages: redis-tools redis-server",
        ]


PIP_INSTALL = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
MYPY = [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]

USER_PROGRAM = """\
    from __future__ import annotations

    import greenserver as gs


    def main() -> None:
        pid: gs.Pid = gs.spawn(print, "hello")
        name: str = gs.self()  # the deliberate error mypy must find
        print(pid, name)
"""


class TestTypedPackage:
    def test_mypy_checks_a_program_against_the_installed_package(self, tmp_path: Path) -> None:
        """Installed the way a user installs it, greenserver is typed (py.typed ships).

        The package is built from a copy of this checkout and installed, not
        in editable mode, into a fresh virtual environment that sees the test
        environment's other packages; mypy then checks a program outside the
        checkout against it and must find the program's one type error.
        """
        src = tmp_path / "src"
        src.mkdir()
        for name in ("setup.cfg", "pyproject.toml", "README.md"):
            (src / name).write_text((ROOT / name).read_text())
        subprocess.run(
            ["cp", "-r", str(ROOT / "greenserver"), str(src / "greenserver")], check=True
        )
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = venv / "bin" / "python"
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        # gevent, structlog and their stubs come from the test environment.
        (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        subprocess.run(
            [*PIP_INSTALL, "--target", site, str(src)],
            check=True,
            capture_output=True,
        )
        assert (Path(site) / "greenserver" / "py.typed").exists()
        program = tmp_path / "user" / "app.py"
        program.parent.mkdir()
        program.write_text(textwrap.dedent(USER_PROGRAM))

        done = subprocess.run(
            [*MYPY, "--python-executable", str(python), "app.py"],
            capture_output=True,
            text=True,
            cwd=program.parent,
            check=False,
        )

        assert done.stdout.splitlines() == [
            "app.py:8: error: Incompatible types in assignment (expression has type "
            '"Pid", variable has type "str")  [assignment]',
            "Found 1 error in 1 file (checked 1 source file)",
        ]
