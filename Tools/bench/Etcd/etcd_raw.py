"""The etcd workload's raw client: the same etcd calls StateCoordinator makes, with no library work.

A minimal Python client (grpcio) on the project's own trimmed etcd proto
(Tools/etcd-proto/etcd-v3-subset.proto; stubs generated into STUBS by the workload), so that
`state-bench --only etcd` can put our commit and our watch beside what the bare calls cost on the
same member in the same run.

    etcd_raw.py STUBS incr ENDPOINT KEY COUNT SIZE
        COUNT read-modify-write increments of a counter kept in a SIZE-byte value: Range, then a
        Txn comparing mod_revision (its failure branch reads the winner, retried from there), as
        a careful hand-written client does. Prints "start NS", one "l NS" latency per commit, "end NS"
        (CLOCK_MONOTONIC).
    etcd_raw.py STUBS chain ENDPOINT KEY COUNT SIZE
        The same, as our commit does it: after its own write a client knows the value and the revision
        it got back, and sends the next Txn on them without a Range (a stale one fails and its failure
        branch returns the newest value).
    etcd_raw.py STUBS write ENDPOINT KEY COUNT PERIOD_US
        COUNT commits to a StateCoordinator store's key (the Python package's file format), one every
        PERIOD_US: prints "VERSION NS" (CLOCK_REALTIME) just before each Txn is sent.
    etcd_raw.py STUBS watch ENDPOINT KEY UNTIL
        A bare watch on KEY: prints "ready" once created, then "VERSION NS" (CLOCK_REALTIME, on
        arrival) per event, until VERSION >= UNTIL.
"""
import os
import re
import sys
import threading
import time

STUBS = sys.argv[1]
sys.path.insert(0, STUBS)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Sources", "python"))

import grpc  # noqa: E402
import etcd_v3_subset_pb2 as pb  # noqa: E402
import etcd_v3_subset_pb2_grpc as rpc  # noqa: E402

VERSION = re.compile(rb'"version":(\d+)')


def channel(endpoint: str) -> grpc.Channel:
    return grpc.insecure_channel(endpoint.replace("http://", ""))


def compare_and_put(key: bytes, mod: int, value: bytes) -> pb.TxnRequest:
    return pb.TxnRequest(
        compare=[pb.Compare(key=key, target=pb.Compare.MOD, result=pb.Compare.EQUAL, mod_revision=mod)],
        success=[pb.RequestOp(request_put=pb.PutRequest(key=key, value=value))],
        failure=[pb.RequestOp(request_range=pb.RangeRequest(key=key))])


def incr(endpoint: str, key: bytes, count: int, size: int, chained: bool) -> None:
    kv = rpc.KVStub(channel(endpoint))
    padding = b"x" * max(0, size - 32)

    def value(counter: int) -> bytes:
        return b"%020d\n" % counter + padding

    latencies = []
    known = None  # chained: (mod_revision, counter) of this client's last write
    start = time.monotonic_ns()
    for _ in range(count):
        before = time.monotonic_ns()
        if known is None:
            kvs = kv.Range(pb.RangeRequest(key=key)).kvs
            mod = kvs[0].mod_revision if kvs else 0
            counter = int(kvs[0].value[:20]) if kvs else 0
        else:
            mod, counter = known
        while True:
            answer = kv.Txn(compare_and_put(key, mod, value(counter + 1)))
            if answer.succeeded:
                break
            kvs = answer.responses[0].response_range.kvs
            mod = kvs[0].mod_revision if kvs else 0
            counter = int(kvs[0].value[:20]) if kvs else 0
        if chained:
            known = (answer.header.revision, counter + 1)
        latencies.append(time.monotonic_ns() - before)
    end = time.monotonic_ns()
    print("start %d\n%s\nend %d" % (start, "\n".join("l %d" % x for x in latencies), end), flush=True)


def write(endpoint: str, key: bytes, count: int, period_us: int) -> None:
    from statecoordinator import _format

    kv = rpc.KVStub(channel(endpoint))
    sent = []
    for _ in range(count):
        due = time.monotonic() + period_us / 1e6
        current = kv.Range(pb.RangeRequest(key=key)).kvs[0]
        header, state = _format.decode(current.value, key.decode())
        state["counter"] = state.get("counter", 0) + 1
        header["version"] += 1
        header["committedAt"] = _format.timestamp()
        data = _format.encode(header, state)
        sent.append((header["version"], time.time_ns()))
        if not kv.Txn(compare_and_put(key, current.mod_revision, data)).succeeded:
            raise SystemExit("write: another writer committed during the propagation workload")
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    print("\n".join("%d %d" % entry for entry in sent), flush=True)


def watch(endpoint: str, key: bytes, until: int) -> None:
    stub = rpc.WatchStub(channel(endpoint))
    def requests():
        yield pb.WatchRequest(create_request=pb.WatchCreateRequest(key=key))
        threading.Event().wait()  # keep the stream open (a closed send side may end the watch)

    seen = []
    for response in stub.Watch(requests()):
        if response.created:
            print("ready", flush=True)
        arrived = time.time_ns()
        last = 0
        for event in response.events:
            match = VERSION.search(event.kv.value[:512])
            if match:
                last = int(match.group(1))
                seen.append((last, arrived))
        if last >= until:
            break
    print("\n".join("%d %d" % entry for entry in seen), flush=True)
    os._exit(0)  # the request generator's thread is still waiting


def main() -> None:
    mode, endpoint, key = sys.argv[2], sys.argv[3], sys.argv[4].encode()
    if mode in ("incr", "chain"):
        incr(endpoint, key, int(sys.argv[5]), int(sys.argv[6]), chained=mode == "chain")
    elif mode == "write":
        write(endpoint, key, int(sys.argv[5]), int(sys.argv[6]))
    elif mode == "watch":
        watch(endpoint, key, int(sys.argv[5]))
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
