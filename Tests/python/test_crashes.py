"""Python writers SIGKILLed at random points: nothing committed is lost, nothing torn, leftovers
swept, and the store verifies."""

import os
import random
import signal
import time

from statecoordinator import Store

WRITER = """
import sys
from statecoordinator import Store
store = Store(sys.argv[1], label="py-crash")
while True:
    snapshot = store.update(lambda s: {**s, "n": s["n"] + 1, "pad": "x" * (s["n"] % 4096)}, lock_timeout=None)
    print(snapshot.version, flush=True)
"""


def test_python_writers_killed_at_random_points_lose_nothing(store_dir, statectl, python_program):
    store = Store.create(store_dir, {"n": 0, "pad": ""}, keep_history=3)
    generator = random.Random(20)
    confirmed = 0
    for _ in range(200):
        writers = [python_program(WRITER, store_dir) for _ in range(2)]
        time.sleep(generator.uniform(0.05, 0.25))  # past the interpreter's start, into the commits
        for writer in writers:
            writer.send_signal(signal.SIGKILL)
        for writer in writers:
            out, _ = writer.communicate()
            versions = [int(line) for line in out.split()]
            if versions:
                confirmed = max(confirmed, versions[-1])
        current = store.read()  # verifies: never a torn version
        assert current.state["n"] == current.version, "every commit added exactly 1"
        assert current.version >= confirmed, "a commit that returned is never lost"
    assert confirmed > 0
    final = store.update(lambda s: {**s, "n": s["n"] + 1})
    assert final.state["n"] == final.version
    assert not [n for n in os.listdir(store_dir) if n.startswith(".state.tmp-")], "leftovers swept"
    assert statectl("verify").returncode == 0
