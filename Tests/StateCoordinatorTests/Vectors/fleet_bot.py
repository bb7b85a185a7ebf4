"""A Python trading bot of the fleet tests: reads its host's mirrored store through the package,
registers as LABEL and acknowledges each version once it has "applied" it.

    python3 fleet_bot.py DIRECTORY LABEL
"""

import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Sources", "python"))

from statecoordinator import Reader, Store  # noqa: E402


class Bot:
    def __init__(self, directory: str, label: str) -> None:
        self.reader = None
        self.ready = threading.Event()
        self.reader = Reader(Store(directory), label=label, on_version=self.applied)
        self.ready.set()
        self.reader.acknowledge()
        print("ready", self.reader.current.version, flush=True)

    def applied(self, snapshot) -> None:
        self.ready.wait()
        self.reader.acknowledge(snapshot.version)
        print("applied", snapshot.version, flush=True)


if __name__ == "__main__":
    Bot(sys.argv[1], sys.argv[2])
    threading.Event().wait()
