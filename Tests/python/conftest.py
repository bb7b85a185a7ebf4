"""Fixtures of the Python package's tests: a fresh directory, and the Swift side (statectl)."""

import contextlib
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


@contextlib.contextmanager
def _lock_held_by_flock(lockfile):
    """util-linux flock(1) holding the lock until the yielded function is called (it closes the
    holder's stdin) or the block ends; yields that function once the lock is held."""
    holder = subprocess.Popen(["flock", lockfile, "sh", "-c", "echo held; read line"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder.stdin.close
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def held_by_flock():
    """``with held_by_flock(lockfile) as let_go:``: the lock held by a real flock(1) peer."""
    return _lock_held_by_flock


@pytest.fixture
def blocked_in_flock():
    """Whether this process has a flock waiting for `lockfile` (the kernel's /proc/locks shows a
    blocked request as a "->" line)."""
    def blocked(lockfile):
        status = os.stat(lockfile)
        wanted = "%02x:%02x:%d" % (os.major(status.st_dev), os.minor(status.st_dev), status.st_ino)
        with open("/proc/locks") as locks:
            return any("->" in line and wanted in line and " %d " % os.getpid() in line for line in locks)
    return blocked
