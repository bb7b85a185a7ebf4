"""Combining from Python: writers publish while another holds the lock; a holder commits the
others' requests with its own, and settles what a holder that died left."""

import json
import os
import threading
import time

import pytest

from statecoordinator import NotFound, Store
from statecoordinator._combining import MutationFailed, Queue, answers_name, new_id
from statecoordinator._lock import WriterLock, _ParkedWaiter

INCREMENT = """
import sys
from statecoordinator import Store
store = Store(sys.argv[1])
for _ in range(int(sys.argv[2])):
    store.incr("/n", lock_timeout=60)
"""


def _left(store_dir):
    queue = os.path.join(store_dir, "state.queue")
    found = []
    for name in os.listdir(queue):
        path = os.path.join(queue, name)
        found += [name + "/" + inner for inner in os.listdir(path)] if name.endswith(".answers") else [name]
    return found


def test_python_writers_share_commits_and_lose_nothing(store_dir, python_program):
    Store.create(store_dir, {"n": 0})
    writers = [python_program(INCREMENT, store_dir, "100") for _ in range(6)]
    for process in writers:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    current = Store(store_dir).read()
    assert current.state["n"] == 600
    assert current.version < 600, "no two increments were ever committed together"
    assert _left(store_dir) == []


def test_python_and_swift_writers_combine_each_others_updates(store_dir, statectl_binary, python_program):
    import subprocess
    Store.create(store_dir, {"n": 0})
    writers = [python_program(INCREMENT, store_dir, "60") for _ in range(3)]
    loops = [subprocess.Popen(["sh", "-c", 'for i in $(seq 60); do "$0" --dir "$1" incr /n >/dev/null || exit 1; done',
                               statectl_binary, store_dir]) for _ in range(3)]
    for process in writers:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    for loop in loops:
        assert loop.wait(timeout=300) == 0
    assert Store(store_dir).read().state["n"] == 360
    assert _left(store_dir) == []


def _claim_by_hand(store_dir, mutation):
    """A request a holder took at version 0 and died with: ID.0.claim."""
    queue = Queue(store_dir, "state")
    queue.ensure(0o640)
    assert queue.exists(0o640)
    ident = new_id()
    assert queue.answers_dir(ident, True)
    with open(os.path.join(queue.path, ident + ".0.claim"), "w") as f:
        f.write(json.dumps({"id": ident, "mutation": mutation}))
    return queue, ident


def test_a_claim_left_at_the_current_version_is_committed_once_by_the_next_holder(store_dir):
    store = Store.create(store_dir, {"n": 0})
    queue, ident = _claim_by_hand(store_dir, {"op": "incr", "path": "/n", "by": 5})
    snapshot = store.set("/other", True)
    assert snapshot.state == {"n": 5, "other": True}
    assert os.path.exists(queue.answer_path(ident, "done"))
    store.set("/again", 1)
    assert store.read().state["n"] == 5, "applied twice"


def test_a_claim_no_version_can_settle_is_answered_unknown_and_never_applied(store_dir):
    store = Store.create(store_dir, {"n": 0})
    store.update(lambda s: {**s, "v": 1})
    store.update(lambda s: {**s, "v": 2})
    queue, ident = _claim_by_hand(store_dir, {"op": "incr", "path": "/n", "by": 5})
    store.set("/x", 1)
    with open(queue.answer_path(ident, "failed")) as f:
        assert json.load(f)["outcome"] == "unknown"
    assert store.read().state["n"] == 0


def test_a_failing_mutation_raises_and_commits_nothing(store_dir):
    store = Store.create(store_dir, {"name": "x"})
    for mutation in ({"op": "incr", "path": "/name"}, {"op": "delete", "path": "/missing"}, {"op": "merge", "patch": [1]},
                     {"op": "explode"}, {"op": "set", "path": "no-slash", "value": 1}):
        try:
            store.apply(mutation)
        except MutationFailed:
            pass
        else:
            raise AssertionError("applied: %r" % mutation)
    assert store.read().version == 0


def test_a_queue_others_may_write_is_not_used(store_dir):
    store = Store.create(store_dir, {"n": 0})
    os.mkdir(os.path.join(store_dir, "state.queue"))
    os.chmod(os.path.join(store_dir, "state.queue"), 0o777)
    queue, ident = Queue(store_dir, "state"), new_id()
    assert not queue.exists(0o640)
    with open(os.path.join(queue.path, ident + ".req"), "w") as f:
        f.write(json.dumps({"id": ident, "mutation": {"op": "incr", "path": "/n", "by": 1000}}))
    store.incr("/n")
    assert store.read().state["n"] == 1, "a planted request was committed"


def test_a_holder_that_died_while_answering_is_never_queued_again(store_dir):
    store = Store.create(store_dir, {"n": 0})
    queue, ident = _claim_by_hand(store_dir, {"op": "incr", "path": "/n", "by": 5})
    os.rename(os.path.join(queue.path, ident + ".0.claim"), os.path.join(queue.path, ident + ".0.answering"))
    store.set("/x", 1)
    with open(queue.answer_path(ident, "failed")) as f:
        assert json.load(f)["outcome"] == "unknown"
    assert store.read().state["n"] == 0


def test_requests_that_cancel_out_are_committed_in_a_version_that_lists_them(store_dir):
    store = Store.create(store_dir, {"n": 0})
    queue = Queue(store_dir, "state")
    queue.ensure(0o640)
    ids = [new_id(), new_id()]
    for ident, by in zip(ids, (1, -1)):
        assert queue.answers_dir(ident, True)
        queue.publish(ident, {"op": "incr", "path": "/n", "by": by}, None, 0o640)
    snapshot = store.set("/n", 0)
    assert snapshot.version == 1 and snapshot.state == {"n": 0}
    with open(store.path, "rb") as f:
        assert json.loads(f.readline())["combined"] == ids
    for ident in ids:
        assert os.path.exists(queue.answer_path(ident, "done"))


def test_incr_of_the_root_adds_to_a_number_and_refuses_anything_else(store_dir):
    store = Store.create(store_dir, {"n": 0})
    try:
        store.incr("")
    except MutationFailed:
        pass
    else:
        raise AssertionError("incremented an object")
    assert store.read().state == {"n": 0}
    store.replace(41)
    assert store.incr("").state == 42


def test_an_apply_beside_a_holder_that_does_not_combine_gets_the_lock_the_moment_it_is_let_go(store_dir, held_by_flock, blocked_in_flock):
    """Nobody answers a request published beside a holder that does not combine (flock(1) here,
    a typed Swift store's closures in production): the writer waits for the lock in flock, on the
    parked thread, while it looks for an answer; polling with LOCK_NB instead starved it for
    seconds beside writers blocked in flock."""
    store = Store.create(store_dir, {"n": 0})
    lockfile = os.path.join(store_dir, "state.lock")
    with held_by_flock(lockfile) as let_go:
        result = {}

        def apply():
            result["snapshot"] = store.apply({"op": "incr", "path": "/n", "by": 5}, lock_timeout=30)

        waiting = threading.Thread(target=apply)
        waiting.start()
        deadline = time.monotonic() + 10
        while not (blocked_in_flock(lockfile) and _ParkedWaiter.claimant_count(lockfile) == 1):
            assert time.monotonic() < deadline, "the apply waits in a blocked flock, claiming its hand-over"
            time.sleep(0.001)
        assert [name for name in _left(store_dir) if name.endswith(".req")], "its request is published meanwhile"
        let_go()
        waiting.join(30)
        assert not waiting.is_alive()
    assert result["snapshot"].state == {"n": 5} and result["snapshot"].version == 1
    assert not [name for name in _left(store_dir) if not name.endswith(".answers")], "its own request was withdrawn, not left"
    assert _ParkedWaiter.parked_count(lockfile) == 0


def test_a_lock_wait_that_stops_or_times_out_leaves_the_lock_to_others(store_dir, held_by_flock, blocked_in_flock):
    Store.create(store_dir, {"n": 0})
    lockfile = os.path.join(store_dir, "state.lock")
    with held_by_flock(lockfile) as let_go:
        asked = []

        def stop_on_third():
            asked.append(time.monotonic())
            return len(asked) == 3

        assert WriterLock.unless(store_dir, "state", 30, stop_on_third) is None
        assert len(asked) == 3, "asked while it waited, every few milliseconds, until it said stop"
        assert WriterLock.unless(store_dir, "state", 0.05, lambda: False) is None, "a timeout returns None, raising nothing"

        def failing():
            raise ValueError("the answer could not be read")

        with pytest.raises(ValueError):
            WriterLock.unless(store_dir, "state", 30, failing)
        assert _ParkedWaiter.claimant_count(lockfile) == 0
        deadline = time.monotonic() + 10
        while not blocked_in_flock(lockfile):
            assert time.monotonic() < deadline, "one parked flock stays queued behind the holder"
            time.sleep(0.001)
        let_go()
    # Nobody claims what the parked thread gets: it lets go at once, and the lock is free.
    deadline = time.monotonic() + 10
    while True:
        lock = WriterLock.try_acquire(store_dir, "state")
        if lock is not None:
            break
        assert time.monotonic() < deadline, "the parked thread did not keep the lock"
        time.sleep(0.001)
    lock.release()
    assert _ParkedWaiter.parked_count(lockfile) == 0


def test_a_lock_handed_over_while_the_wait_decides_to_stop_is_not_kept(store_dir, held_by_flock, blocked_in_flock):
    """The parked thread hands the lock over while `stop` runs, and `stop` then says stop (its
    answer came): the wait returns nothing, and the lock it was handed is let go, not kept."""
    Store.create(store_dir, {"n": 0})
    lockfile = os.path.join(store_dir, "state.lock")
    with held_by_flock(lockfile) as let_go:
        waiter = _ParkedWaiter.of(os.stat(lockfile))

        def stop_after_the_hand_over():
            if not blocked_in_flock(lockfile):
                return False
            let_go()
            deadline = time.monotonic() + 10
            while waiter._handed is None:
                assert time.monotonic() < deadline, "the parked thread got the lock and handed it over"
                time.sleep(0.001)
            return True

        assert WriterLock.unless(store_dir, "state", 30, stop_after_the_hand_over) is None
        assert _ParkedWaiter.claimant_count(lockfile) == 0 and waiter._handed is None
    lock = WriterLock.try_acquire(store_dir, "state")
    assert lock is not None, "the handed-over lock was released by its last claimant"
    lock.release()


def test_an_apply_answered_while_it_waits_for_the_lock_returns_the_answer(store_dir, held_by_flock, blocked_in_flock):
    """Past the first 2 ms the answer still ends the wait: the holder (played here by the test:
    it claims the request and links the state file as its answer) answers while the lock is
    held, and the call returns that version without ever holding the lock."""
    store = Store.create(store_dir, {"n": 0})
    lockfile = os.path.join(store_dir, "state.lock")
    queue = os.path.join(store_dir, "state.queue")
    with held_by_flock(lockfile) as let_go:
        result = {}
        waiting = threading.Thread(target=lambda: result.update(snapshot=store.apply({"op": "incr", "path": "/n"}, lock_timeout=30)))
        waiting.start()
        deadline = time.monotonic() + 10
        while not (blocked_in_flock(lockfile) and _ParkedWaiter.claimant_count(lockfile) == 1):
            assert time.monotonic() < deadline
            time.sleep(0.001)
        [request] = [name for name in os.listdir(queue) if name.endswith(".req")]
        ident = request[:-len(".req")]
        os.rename(os.path.join(queue, request), os.path.join(queue, ident + ".0.claim"))
        os.link(os.path.join(store_dir, "state.json"), os.path.join(queue, answers_name(ident), ident + ".done"))
        waiting.join(10)
        assert not waiting.is_alive(), "answered while flock(1) still holds the lock"
        assert result["snapshot"].version == 0
        let_go()
    deadline = time.monotonic() + 10
    while (lock := WriterLock.try_acquire(store_dir, "state")) is None:
        assert time.monotonic() < deadline, "the parked thread let go of a lock nobody claimed"
        time.sleep(0.001)
    lock.release()


def test_an_apply_whose_lock_wait_fails_withdraws_its_request(store_dir, held_by_flock):
    """The lockfile deleted while the writer waits (an operator's mistake): the wait fails, and the
    published request is withdrawn before the error reaches the caller, so no later holder commits
    what the caller was told failed."""
    store = Store.create(store_dir, {"n": 0})
    lockfile = os.path.join(store_dir, "state.lock")
    queue = os.path.join(store_dir, "state.queue")
    with held_by_flock(lockfile) as let_go:
        result = {}

        def apply():
            try:
                store.apply({"op": "incr", "path": "/n"}, lock_timeout=30)
            except Exception as error:  # noqa: BLE001 - the test inspects it
                result["error"] = error

        waiting = threading.Thread(target=apply)
        waiting.start()
        deadline = time.monotonic() + 10
        while _ParkedWaiter.claimant_count(lockfile) != 1:
            assert time.monotonic() < deadline
            time.sleep(0.001)
        os.unlink(lockfile)
        let_go()
        waiting.join(30)
        assert not waiting.is_alive()
    assert isinstance(result.get("error"), NotFound), result
    assert not [name for name in os.listdir(queue) if name.endswith(".req") or ".claim" in name]
    assert store.read().state == {"n": 0} and store.read().version == 0
