"""Fixtures of the Python package's tests: a fresh directory, and the Swift side (statectl)."""

import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Sources", "python"))


def _statectl_path() -> str:
    path = os.environ.get("STATECTL")
    if path:
        return path
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    bin_path = subprocess.run(["swift", "build", "--show-bin-path"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(bin_path, "statectl")


@pytest.fixture(scope="session")
def statectl_binary() -> str:
    path = _statectl_path()
    assert os.access(path, os.X_OK), "build statectl first (swift build): %s" % path
    return path


@pytest.fixture
def store_dir(tmp_path):
    return str(tmp_path)


@pytest.fixture
def statectl(statectl_binary, store_dir):
    def run(*arguments, check=False, timeout=60):
        result = subprocess.run([statectl_binary, "--dir", store_dir, *arguments], capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, result
        return result
    return run


@pytest.fixture
def python_program():
    """Runs a Python program with the package importable; returns the Popen."""
    package = os.path.join(os.path.dirname(__file__), "..", "..", "Sources", "python")

    def start(source, *arguments, **kwargs):
        env = dict(os.environ, PYTHONPATH=os.path.abspath(package))
        return subprocess.Popen([sys.executable, "-c", source, *arguments], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, **kwargs)
    return start
