"""The Python side of state-bench's `python` workload: the statecoordinator package
(Sources/python, on PYTHONPATH) as a bot uses it. Output lines match state-floor's and the
Swift workers', so the benchmark reads all of them the same way.

usage:
  bench_python.py commit DIR COUNT        Store.update COUNT times (after 5 unmeasured):
                                          prints "start <ns>", "l <ns>" per commit, "end <ns>"
  bench_python.py watch DIR UNTIL         an unlabelled Reader; prints "ready", then at the end
                                          "<version> <realtime ns>" for every version its main
                                          thread was woken with from wait_until (a bot's loop)
                                          and "cpu <ns>"
  bench_python.py ack DIR UNTIL INDEX     a Reader labelled bench-py-INDEX whose main thread
                                          waits for each new version and acknowledges it, as a
                                          bot's loop does; prints "ready" once registered
"""
import sys
import time

from statecoordinator import Store


def commit(directory: str, count: int) -> None:
    store = Store(directory, label="bench-py")

    def bump(state):
        state["counter"] += 1

    for _ in range(5):
        store.update(bump)
    latencies = []
    begin = time.monotonic_ns()
    for _ in range(count):
        start = time.monotonic_ns()
        store.update(bump)
        latencies.append(time.monotonic_ns() - start)
    end = time.monotonic_ns()
    final = store.read()
    if final.state["counter"] != count + 5:
        sys.exit("lost update: counter %d after %d commits" % (final.state["counter"], count + 5))
    print("start %d" % begin)
    print("\n".join("l %d" % latency for latency in latencies))
    print("end %d" % end)


def watch(directory: str, until: int) -> None:
    seen = []
    reader = Store(directory).reader()
    print("ready", flush=True)
    cpu_at_ready = time.process_time_ns()
    last = reader.current.version
    while last < until:
        # What a bot's loop sees: its own thread woken with the new version.
        snapshot = reader.wait_until(lambda s: s.version > last)
        seen.append((snapshot.version, time.time_ns()))
        last = snapshot.version
    cpu = time.process_time_ns() - cpu_at_ready
    reader.close()
    print("\n".join("%d %d" % entry for entry in seen))
    print("cpu %d" % cpu, flush=True)


def acknowledge(directory: str, until: int, index: int) -> None:
    with Store(directory).reader(label="bench-py-%d" % index) as reader:
        print("ready", flush=True)
        last = 0
        # Alive until the version after the last measured one: a reader that exits is not waited for.
        while last <= until:
            snapshot = reader.wait_until(lambda s: s.version > last)
            reader.acknowledge(snapshot.version)
            last = snapshot.version


if __name__ == "__main__":
    role, directory = sys.argv[1], sys.argv[2]
    if role == "commit":
        commit(directory, int(sys.argv[3]))
    elif role == "watch":
        watch(directory, int(sys.argv[3]))
    elif role == "ack":
        acknowledge(directory, int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
