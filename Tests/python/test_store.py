"""The package against the Swift side: one store, writers of both languages, no lost update."""

import json
import os
import signal
import subprocess
import threading
import time

import pytest

from statecoordinator import (Conflict, Corrupt, LockTimeout, NotFound, SchemaViolation, Snapshot, Store,
                              StateCoordinatorError)
from statecoordinator.compat import StateFile

INCREMENT = """
import sys
from statecoordinator import Store
store = Store(sys.argv[1], label="py-writer")
for _ in range(int(sys.argv[2])):
    store.update(lambda s: {**s, "n": s["n"] + 1}, lock_timeout=60)
"""


def test_python_and_statectl_writers_lose_no_update(store_dir, statectl, statectl_binary, python_program):
    Store.create(store_dir, {"n": 0}, keep_history=1000)
    writers = [python_program(INCREMENT, store_dir, "200") for _ in range(3)]
    loops = [subprocess.Popen(["sh", "-c", 'for i in $(seq 100); do "$0" --dir "$1" incr /n >/dev/null || exit 1; done',
                               statectl_binary, store_dir]) for _ in range(2)]
    for process in writers:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    for loop in loops:
        assert loop.wait(timeout=300) == 0
    current = Store(store_dir).read()
    # statectl's increments are combined with each other's while one holds the lock: fewer versions.
    assert current.state["n"] == 800 and 600 <= current.version <= 800
    versions = [entry.version for entry in Store(store_dir).history()]
    assert versions == list(range(current.version)), "every version kept, contiguous"
    assert statectl("verify").returncode == 0
    labels = {entry.writer.label for entry in Store(store_dir).history()}
    assert "py-writer" in labels and "statectl" in labels


def test_a_python_watch_sees_every_version_in_order(store_dir, statectl):
    store = Store.create(store_dir, {"n": 0}, keep_history=5)
    seen = []
    watch = store.watch(timeout=3)
    seen.append(next(watch).version)
    for _ in range(20):
        statectl("incr", "/n", check=True)
    for item in watch:
        assert isinstance(item, Snapshot), item
        seen.append(item.version)
        if item.version == 20:
            break
    assert seen == list(range(21))
    meta = json.loads(statectl("get", "--meta").stdout)
    assert meta["writer"]["label"] == "statectl"
    store.set("/n", 99)
    assert json.loads(statectl("get", "--meta").stdout)["writer"]["label"] == Store(store_dir).label


def test_a_watch_reports_versions_no_longer_kept_as_a_gap(store_dir, statectl):
    store = Store.create(store_dir, {"n": 0}, keep_history=2)
    for _ in range(6):
        statectl("incr", "/n", check=True)
    items = list(store.watch(after=0, timeout=0.5))
    assert [getattr(i, "version", None) or (i.first, i.last) for i in items] == [(1, 3), 4, 5, 6]


def test_python_readers_acknowledge_and_a_stopped_one_is_named(store_dir, statectl, python_program):
    Store.create(store_dir, {"halt": False})
    program = """
import sys
from statecoordinator import Store
with Store(sys.argv[1]).reader(label=sys.argv[2]) as reader:
    print("ready", flush=True)
    last = reader.current.version
    while True:
        snapshot = reader.wait_until(lambda s: s.version > last)
        last = snapshot.version
        reader.acknowledge(last)
"""
    bots = [python_program(program, store_dir, "py-bot-%d" % i) for i in range(2)]
    try:
        for bot in bots:
            assert bot.stdout.readline().strip() == "ready"
        halt = statectl("set", "/halt", "true", "--await-ack", "all", "--ack-timeout", "10")
        assert halt.returncode == 0, halt
        bots[1].send_signal(signal.SIGSTOP)
        stopped = statectl("set", "/halt", "false", "--await-ack", "all", "--ack-timeout", "1")
        assert stopped.returncode == 10 and "py-bot-1@" in stopped.stderr and "has not applied" in stopped.stderr, stopped
        bots[1].send_signal(signal.SIGCONT)
        listed = json.loads(statectl("readers", "--json").stdout)
        assert sorted(r["label"] for r in listed) == ["py-bot-0", "py-bot-1"]
        assert all(r["owner"] == os.geteuid() for r in listed)
    finally:
        for bot in bots:
            bot.kill()


def test_python_waits_for_swift_readers(store_dir, statectl_binary):
    store = Store.create(store_dir, {"halt": False})
    swift = subprocess.Popen([statectl_binary, "--dir", store_dir, "watch", "--as", "swift-bot", "--ack"], stdout=subprocess.PIPE, text=True)
    try:
        assert '"version":0' in swift.stdout.readline()
        deadline = time.monotonic() + 10
        while not any(r.label == "swift-bot" for r in store.readers()):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        halted = store.set("/halt", True)
        report = store.wait_for_acknowledgements(halted.version, ["swift-bot"], timeout=10)
        assert report.complete and [r.label for r in report.applied] == ["swift-bot"], report
        missing = store.wait_for_acknowledgements(halted.version, ["nobody"], timeout=0.2)
        assert not missing.complete and missing.missing == ["nobody"]
    finally:
        swift.kill()


def test_a_lock_held_by_flock_times_out_naming_its_holder(store_dir):
    store = Store.create(store_dir, {"n": 0})
    holder = subprocess.Popen(["flock", os.path.join(store_dir, "state.lock"), "sh", "-c", "echo held; exec sleep 30"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        reader = store.reader()
        started = time.monotonic()
        with pytest.raises(LockTimeout) as raised:
            store.update(lambda s: {"n": 1}, lock_timeout=0.5)
        assert time.monotonic() - started < 1.5
        assert raised.value.code == 4 and raised.value.holder_pid is not None
        assert "pid %d" % raised.value.holder_pid in str(raised.value)
        assert reader.current.version == 0, "the reader answers meanwhile"
        reader.close()
    finally:
        holder.kill()
    assert store.read().version == 0, "nothing was committed"


def test_a_schema_refuses_a_python_update_and_a_missing_schema_file_refuses_commits(store_dir, statectl):
    schema = {"type": "object", "properties": {"halt": {"type": "boolean"}}, "required": ["halt"]}
    store = Store.create(store_dir, {"halt": False}, schema=schema)
    with pytest.raises(SchemaViolation) as raised:
        store.set("/halt", "yes")
    assert raised.value.code == 11 and raised.value.pointer == "/halt"
    assert "does not match the store's schema; nothing was committed" in str(raised.value)
    assert store.read().version == 0
    assert statectl("set", "/halt", '"yes"').returncode == 11, "statectl refuses the same"
    for name in os.listdir(store_dir):
        if ".schema-" in name:
            os.unlink(os.path.join(store_dir, name))
    with pytest.raises(Corrupt):
        store.set("/halt", True)
    assert statectl("set", "/halt", "true").returncode != 0, "as the Swift side refuses it"
    assert store.read().version == 0


def test_damage_and_plain_json_are_named(store_dir, statectl):
    with open(os.path.join(store_dir, "state.json"), "w") as f:
        f.write('{"halt": false}')
    with pytest.raises(NotFound) as raised:
        Store(store_dir)
    assert raised.value.code == 6 and "import_plain_json" in str(raised.value)
    store = Store.import_plain_json(os.path.join(store_dir, "state.json"), store_dir)
    assert store.read().state == {"halt": False}
    assert os.path.exists(os.path.join(store_dir, "state.plain.json"))
    assert statectl("verify").returncode == 0
    data = open(store.path, "rb").read()
    with open(store.path, "wb") as f:
        f.write(data.replace(b"false", b"true "))
    with pytest.raises(Corrupt) as corrupt:
        store.read()
    assert corrupt.value.code == 5
    with pytest.raises(Corrupt):
        store.update(lambda s: {"halt": True})


def test_a_reader_follows_a_store_deleted_and_re_created(tmp_path, statectl_binary):
    directory = tmp_path / "bot"
    directory.mkdir()
    store = Store.create(str(directory), {"generation": 1})
    reader = store.reader()
    try:
        for name in os.listdir(directory):
            os.unlink(directory / name)
        directory.rmdir()
        directory.mkdir()
        Store.create(str(directory), {"generation": 2})
        snapshot = reader.wait_until(lambda s: s.state.get("generation") == 2, timeout=10)
        assert snapshot.version == 0
    finally:
        reader.close()


def test_two_state_files_saving_at_once_make_one_conflict(store_dir):
    Store.create(store_dir, {"positions": {}})
    first = StateFile(os.path.join(store_dir, "state.json"))
    second = StateFile(os.path.join(store_dir, "state.json"))
    a, b = first.load(), second.load()
    a["positions"]["EURUSD"] = 1
    b["positions"]["USDJPY"] = 2
    first.save(a)
    with pytest.raises(Conflict) as raised:
        second.save(b)
    assert raised.value.code == 3 and raised.value.current_version == 1
    b = second.load()
    b["positions"]["USDJPY"] = 2
    second.save(b)
    assert Store(store_dir).read().state == {"positions": {"EURUSD": 1, "USDJPY": 2}}


def test_an_update_that_raises_or_changes_nothing_commits_nothing(store_dir):
    store = Store.create(store_dir, {"n": 1, "flag": True})
    with pytest.raises(ZeroDivisionError):
        store.update(lambda s: 1 / 0)
    assert store.update(lambda s: None).version == 0, "unchanged in place"
    assert store.update(lambda s: {"n": 1.0, "flag": True}).version == 0, "1 and 1.0 are one JSON number"
    assert store.update(lambda s: {"n": True, "flag": True}).version == 1, "true is not 1"
    with pytest.raises(StateCoordinatorError):
        store.set("/n", float("nan"))
    assert store.read().version == 1


def test_a_forked_child_does_not_keep_its_parents_entry_alive(store_dir, statectl, python_program):
    Store.create(store_dir, {"halt": False})
    program = """
import os, signal, sys, time
from statecoordinator import Store
reader = Store(sys.argv[1]).reader(label="forker")
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
print(child, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    parent = python_program(program, store_dir)
    child = int(parent.stdout.readline())
    parent.wait()
    try:
        listed = statectl("readers", "--json")
        assert "forker" not in listed.stdout, "the parent died: its entry is dead although its child lives"
    finally:
        os.kill(child, signal.SIGKILL)


def test_marks_from_two_threads_never_take_an_acknowledgement_back(store_dir):
    # A reader's thread marks "loaded" as versions arrive while the bot's thread marks "applied":
    # an older record renamed in after a newer one would take an acknowledgement back (for good,
    # if no later mark follows). A third thread reads the record throughout.
    from statecoordinator.registry import Registration
    Store.create(store_dir, {})
    store_id = Store(store_dir).read().store_id
    registration = Registration(store_dir, "state", "bot")
    record_path = os.path.join(store_dir, "state.readers", registration.id + ".json")
    errors, regressions = [], []
    done = threading.Event()

    def mark(kind):
        try:
            for version in range(1, 2001):
                registration.mark(kind, version, store_id)
        except Exception as error:  # pragma: no cover - the failure being tested for
            errors.append(error)

    def watch():
        highest = 0
        while not done.is_set():
            with open(record_path) as f:
                applied = json.load(f).get("appliedVersion") or 0
            if applied < highest:
                regressions.append((highest, applied))
            highest = max(highest, applied)

    threads = [threading.Thread(target=mark, args=(kind,)) for kind in ("loaded", "applied")]
    watcher = threading.Thread(target=watch)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    try:
        assert errors == [] and regressions == []
        [reader] = Store(store_dir).readers()
        assert (reader.loaded_version, reader.applied_version) == (2000, 2000)
        report = Store(store_dir).wait_for_acknowledgements(2000, timeout=0)
        assert [r.label for r in report.applied] == ["bot"]
    finally:
        registration.close()
    assert Store(store_dir).readers() == []


def _state_file_bytes(header, state=None, body=None):
    import hashlib
    if body is None:
        body = (json.dumps(state, separators=(",", ":"), sort_keys=True) + "\n").encode()
    header = dict(header, stateBytes=len(body), checksum="sha256:" + hashlib.sha256(body).hexdigest())
    return json.dumps(header, separators=(",", ":"), sort_keys=True).encode() + b"\n" + body


def test_a_planted_temp_file_with_a_bad_header_neither_crashes_nor_stops_the_watching(store_dir, tmp_path):
    # The checksum covers the state, not the header: a header whose time cannot be read, or a
    # state nested past the parser's recursion limit, is damage (Corrupt), and the process's one
    # inotify thread, which reads a writer's closed temp file ahead, must survive it.
    store = Store.create(store_dir, {"n": 0})
    header = json.loads(open(os.path.join(store_dir, "state.json"), "rb").read().split(b"\n", 1)[0])
    bad_time = _state_file_bytes(dict(header, version=5, committedAt="not a time"), {"n": 5})
    deep = _state_file_bytes(dict(header, version=6), body=b"[" * 5000 + b"]" * 5000 + b"\n")
    for index, data in enumerate((bad_time, deep)):
        damaged = tmp_path / ("damaged-%d" % index)
        damaged.mkdir()
        Store.create(str(damaged), {})
        (damaged / "state.json").write_bytes(data)
        with pytest.raises(Corrupt):
            Store(str(damaged)).read()
    with store.reader() as reader:
        for name, data in ((".state.tmp-planted1", bad_time), (".state.tmp-planted2", deep)):
            with open(os.path.join(store_dir, name), "wb") as f:  # closed after writing: read ahead
                f.write(data)
        store.update(lambda s: {"n": 1})  # also sweeps the planted files
        assert reader.wait_until(lambda s: s.state == {"n": 1}, timeout=10).state == {"n": 1}
        # The inotify thread is alive: a new reader can still subscribe (it would wait forever).
        made = []
        thread = threading.Thread(target=lambda: made.append(Store(store_dir).reader()), daemon=True)
        thread.start()
        thread.join(timeout=10)
        assert made, "the inotify thread is gone: subscribing hangs"
        made[0].close()


def test_a_child_forked_after_watching_makes_readers_that_poll(store_dir):
    # The inotify thread does not survive a fork, and libinotifytools' instance (its descriptor
    # shared with the parent) is not the child's: a reader made in the child polls instead of
    # waiting forever for a thread that is not there.
    store = Store.create(store_dir, {"n": 0})
    with store.reader() as parent_reader:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                with Store(store_dir).reader() as child_reader:
                    Store(store_dir).update(lambda s: {"n": 2})
                    child_reader.wait_until(lambda s: s.state["n"] == 2, timeout=5)
                    code = 0
            finally:
                os._exit(code)
        deadline = time.monotonic() + 20
        status = 0
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("a reader made in a forked child hung")
        assert os.waitstatus_to_exitcode(status) == 0
        # The parent's reader still follows by inotify.
        assert parent_reader.wait_until(lambda s: s.state["n"] == 2, timeout=5).state["n"] == 2


def test_a_waiting_writer_gets_the_lock_the_moment_its_holder_lets_go(store_dir, held_by_flock, blocked_in_flock):
    """A writer waiting with a timeout waits in a blocking flock on a parked thread, not by
    polling: it gets the lock when the holder releases it; timeouts meanwhile leave one parked
    thread, adopted by the next wait."""
    from statecoordinator._lock import _ParkedWaiter
    store = Store.create(store_dir, {"n": 0})
    lockfile = os.path.join(store_dir, "state.lock")
    with held_by_flock(lockfile) as let_go:
        for _ in range(3):
            with pytest.raises(LockTimeout):
                store.update(lambda s: {"n": s["n"] + 1}, lock_timeout=0.05)
        assert _ParkedWaiter.parked_count(lockfile) == 1, "each timed-out wait adopted the one parked waiter"
        # The kernel queues the parked waiter's flock behind the holder: /proc/locks shows it.
        deadline = time.monotonic() + 10
        while not blocked_in_flock(lockfile):
            assert time.monotonic() < deadline, "a blocked flock waits"
            time.sleep(0.01)
        result = {}

        def update():
            result["snapshot"] = store.update(lambda s: {"n": s["n"] + 1}, lock_timeout=30)

        waiting = threading.Thread(target=update)
        waiting.start()
        deadline = time.monotonic() + 10
        while _ParkedWaiter.claimant_count(lockfile) < 1:  # it waits for the parked thread's hand-over
            assert time.monotonic() < deadline
            time.sleep(0.001)
        let_go()  # the holder exits: the kernel hands the lock to the parked flock
        waiting.join(30)
        assert not waiting.is_alive()
        assert result["snapshot"].state == {"n": 1} and result["snapshot"].version == 1
        assert _ParkedWaiter.parked_count(lockfile) == 0, "the parked thread handed its descriptor over"


def test_a_forked_child_does_not_wait_on_its_parents_parked_thread(store_dir, held_by_flock):
    from statecoordinator._lock import _ParkedWaiter
    store = Store.create(store_dir, {"n": 0})
    lockfile = os.path.join(store_dir, "state.lock")
    with held_by_flock(lockfile) as let_go:
        with pytest.raises(LockTimeout):
            store.update(lambda s: {"n": s["n"] + 1}, lock_timeout=0.05)
        assert _ParkedWaiter.parked_count(lockfile) == 1
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through its exit status
            code = 1
            try:
                let_go()  # the child's copy of the pipe would keep the holder waiting
                if _ParkedWaiter.parked_count(lockfile) == 0:
                    store.update(lambda s: {"n": s["n"] + 1}, lock_timeout=30)
                    code = 0
            finally:
                os._exit(code)
        let_go()
        _, status = os.waitpid(child, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the child waited on its own and committed"
    assert store.read().state == {"n": 1}


def test_where_no_thread_can_start_a_waiting_writer_polls(store_dir, monkeypatch, held_by_flock):
    """Out of threads (or at interpreter exit, where Python starts none), the wait falls back to
    LOCK_NB polling instead of failing, and no half-started waiter is left behind."""
    from statecoordinator._lock import _ParkedWaiter

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    store = Store.create(store_dir, {"n": 0})
    lockfile = os.path.join(store_dir, "state.lock")
    with held_by_flock(lockfile) as let_go:
        with pytest.raises(LockTimeout):
            store.update(lambda s: {"n": s["n"] + 1}, lock_timeout=0.05)
        assert _ParkedWaiter.parked_count(lockfile) == 0
        let_go()
        assert store.update(lambda s: {"n": s["n"] + 1}, lock_timeout=30).version == 1
