"""The package is typed (PEP 561: py.typed, and the stub _turbo.pyi for the
C module): a user's app that uses the public API type-checks under
`mypy --strict`, and mistakes in its use are reported."""

import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("mypy", reason="mypy is pinned in requirements-dev.txt (.venv)")

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
PACKAGE_SRC = os.path.dirname(TESTS_DIR)  # holds turbo/, with py.typed and _turbo.pyi
SAMPLES = os.path.join(TESTS_DIR, "typing")


def mypy(sample, tmp_path):
    """Runs mypy --strict on one sample against the package's sources (the
    package's own modules are read for their types, their errors are not
    the sample's: --follow-imports=silent). Returns (exit status, output)."""
    env = dict(os.environ, MYPYPATH=PACKAGE_SRC)
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-color-output", "--no-error-summary",
         "--follow-imports=silent",
         "--cache-dir", str(tmp_path / "mypy-cache"), os.path.join(SAMPLES, sample)],
        env=env, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


def test_an_app_using_the_public_api_passes_mypy_strict(tmp_path):
    status, out = mypy("sample_app.py", tmp_path)
    assert (status, out) == (0, "")


def test_mistakes_in_using_the_api_are_reported_on_their_lines(tmp_path):
    status, out = mypy("sample_wrong.py", tmp_path)
    with open(os.path.join(SAMPLES, "sample_wrong.py")) as f:
        marked = {n for n, line in enumerate(f, 1) if "# wrong:" in line}
    reported = {int(m.group(1)) for m in re.finditer(r"sample_wrong\.py:(\d+): error:", out)}
    assert status == 1, out
    assert reported == marked, out
