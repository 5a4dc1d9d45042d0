"""scripts/find-python: the Makefile's interpreter search, run for real.

Each test builds a PATH of its own from links to the real interpreter running
the tests (≥ 3.12) and stand-ins that fail the version check, and nothing
else (no pyenv), so the search is checked without the machine's own Pythons.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "find-python"


def run(path_dirs: list[Path], **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": os.pathsep.join(str(d) for d in path_dirs), "HOME": os.environ["HOME"]}
    environ.update(env)
    return subprocess.run(
        ["/bin/sh", str(SCRIPT)], env=environ, capture_output=True, text=True, check=False
    )


def fake_python(folder: Path, name: str, *, version: tuple[int, int]) -> Path:
    """A `name` on PATH that reports `version` the way the script asks for it."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / name
    ok = 0 if version >= (3, 12) else 1
    exe.write_text(f"#!/bin/sh\nexit {ok}\n")
    exe.chmod(0o755)
    return exe


def test_picks_the_first_new_enough_python_on_path(tmp_path):
    bin_dir = tmp_path / "bin"
    real = bin_dir / "python3.13"
    bin_dir.mkdir()
    real.symlink_to(sys.executable)
    fake_python(bin_dir, "python3.12", version=(3, 11))  # a stale one must not win by name
    out = run([bin_dir])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(real)


def test_an_old_python_is_passed_over(tmp_path):
    old = tmp_path / "old"
    new = tmp_path / "new"
    fake_python(old, "python3.13", version=(3, 11))  # tried first by name, and too old
    new.mkdir()
    (new / "python3.12").symlink_to(sys.executable)
    out = run([old, new])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(new / "python3.12")


def test_PYTHON_names_the_interpreter(tmp_path):
    chosen = tmp_path / "mine"
    chosen.symlink_to(sys.executable)
    out = run([], PYTHON=str(chosen))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(chosen)


def test_none_found_says_so_in_one_line(tmp_path):
    only_old = tmp_path / "old"
    fake_python(only_old, "python3", version=(3, 11))
    out = run([only_old])
    assert out.returncode == 1
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Python 3.12 or newer" in lines[0]
    assert "PYTHON=" in lines[0]
