"""The seed's approach, as the original trading/state.py saved its state, for the benchmark:
fcntl.flock on a lockfile, read the JSON, change it, tempfile.mkstemp + json.dump + os.fsync +
os.replace. No checksum, no version, no directory fsync.

usage: seed_writer.py DIR COUNT SIZE [nofsync]   (prints "start", "l <ns>" per commit, "end", like state-floor)
nofsync: without the os.fsync, as many such scripts are written.
"""
import fcntl, json, os, sys, tempfile, time

directory, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sync = sys.argv[4:] != ["nofsync"]
path, lock_path = os.path.join(directory, "trading_state.json"), os.path.join(directory, "trading_state.lock")
with open(lock_path, "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not os.path.exists(path):
        with open(path, "w") as f:
            json.dump({"counter": 0, "payload": "x" * max(0, size - 32)}, f)
    fcntl.flock(lock, fcntl.LOCK_UN)

latencies, begin = [], time.monotonic_ns()
for _ in range(count):
    start = time.monotonic_ns()
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(path) as f:
            state = json.load(f)
        state["counter"] += 1
        fd, tmp = tempfile.mkstemp(dir=directory)
        with os.fdopen(fd, "w") as f:
            json.dump(state, f)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    latencies.append(time.monotonic_ns() - start)
end = time.monotonic_ns()
print("start %d" % begin)
print("\n".join("l %d" % latency for latency in latencies))
print("end %d" % end)
