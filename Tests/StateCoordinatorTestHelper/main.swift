// A peer process for the multi-process tests: each command does one thing a real writer or
// reader would, and reports on stdout, one line per event, flushed at once.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
@_spi(FaultInjection) import StateCoordinator

/// Writes one line to stdout unbuffered, so a SIGKILL right after it loses nothing.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first, arguments.count >= 2 else {
    fail("usage: StateCoordinatorTestHelper incr|read-loop|hold-lock|crash-after DIR [ARGS]")
}
let directory = arguments[1]

func options(label: String = "helper") -> StateStoreOptions {
    StateStoreOptions(lockTimeout: .seconds(30), label: label)
}

/// Options whose system calls `_exit(42)` right after the `count`-th successful `call`: a crash
/// between two steps of the protocol.
func crashing(after call: SystemCallName, count: Int) -> StateStoreOptions {
    final class Seen: Sendable { let calls = Atomic(0) }
    let seen = Seen()
    var opts = options()
    opts.systemCalls = SystemCalls.live.intercepting(before: { _ in }, after: { name in
        guard name == call else { return }
        if seen.calls.add(1, ordering: .relaxed).newValue == count { _exit(42) }
    })
    return opts
}

/// Prints "<version> <counter>" after each acknowledged commit.
func increment(times: Int, store: StateStore<JSONValue>) {
    for _ in 0..<times {
        do {
            let updated = try store.updateWithResult { state -> Int64 in
                let next = (state["counter"]?.intValue ?? 0) + 1
                try state.set(.int(next), forKey: "counter")
                return next
            }
            emit("\(updated.snapshot.version) \(updated.value)")
        } catch {
            fail("update failed: \(error)")
        }
    }
}

/// Prints "v <version> <counter>" per snapshot and one line per other event until stdin closes,
/// then "stats <delivered> <missed> <problems> <resynchronizations> <mode>" (also at each line
/// "stats" on stdin); exits 1 if versions went backwards within a store identity.
func printEvents(of watch: StateWatch<JSONValue>) -> Never {
    Thread.detachNewThread {
        func stats() {
            let statistics = watch.statistics
            emit("stats \(statistics.delivered) \(statistics.missedEvents) \(statistics.problems) \(statistics.resynchronizations) \(watch.mode)")
        }
        while let line = readLine() { if line == "stats" { stats() } }
        stats()
        exit(0)
    }
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        var last: UInt64?
        for await event in watch {
            switch event {
            case .snapshot(let snapshot):
                if let last, snapshot.version <= last { fail("version went backwards: \(last) -> \(snapshot.version)") }
                last = snapshot.version
                emit("v \(snapshot.version) \(snapshot.state["counter"]?.intValue ?? 0)")
            case .storeReset(_, let newID):
                last = nil
                emit("reset \(newID)")
            case .problem(let error): emit("problem \(error.code)")
            case .storeGone: emit("gone")
            case .gap(let missing): emit("gap \(missing.lowerBound) \(missing.upperBound)")
            case .modeChanged(let mode): emit("mode \(mode)")
            }
        }
        done.signal()
    }
    done.wait()
    exit(0)
}

/// A configuration of the etcd endpoints given as one comma-separated argument.
func etcd(_ endpoints: String) -> EtcdConfiguration {
    do {
        return try EtcdConfiguration(
            endpoints: endpoints.split(separator: ",").map(String.init), requestTimeout: .seconds(3), watchIdleTimeout: .seconds(5))
    } catch { fail("bad endpoints: \(error)") }
}

switch command {
case "etcd-incr":
    // etcd-incr ENDPOINTS COUNT [LABEL] [keep-going]: increments /counter COUNT times on the store
    // on etcd; prints "<version> <counter>" per acknowledged commit, and with keep-going
    // "error <code> <outcome>" per failed one (then goes on) instead of exiting 1.
    let count = Int(arguments[2])!
    let label = arguments.count > 3 ? arguments[3] : "helper"
    let keepGoing = arguments.count > 4 && arguments[4] == "keep-going"
    let store: StateStore<JSONValue>
    do { store = try StateStore<JSONValue>(etcd: etcd(directory), options: options(label: label)) } catch { fail("open failed: \(error)") }
    var done = 0
    while done < count {
        do {
            let updated = try store.updateWithResult { state -> Int64 in
                let next = (state["counter"]?.intValue ?? 0) + 1
                try state.set(.int(next), forKey: "counter")
                return next
            }
            emit("\(updated.snapshot.version) \(updated.value)")
            done += 1
        } catch let error as StateStoreError where keepGoing {
            emit("error \(error.code) \(error.outcome.map { "\($0)" } ?? "not-committed")")
            done += 1
            usleep(50_000)
        } catch {
            fail("update failed: \(error)")
        }
    }
    emit("done")

case "etcd-watch":
    // etcd-watch ENDPOINTS [every]: prints "v <version> <counter>" per snapshot, one line per other
    // event; exits 1 if versions went backwards within a store identity; on a line "stats" (or
    // the end of stdin) prints "stats <delivered> <missed> <problems> <resynchronizations> <mode>".
    let every = arguments.count > 2 && arguments[2] == "every"
    do {
        let store = try ReadOnlyStateStore<JSONValue>(etcd: etcd(directory))
        let watch = StateObservation(every ? .every : .latest).events(in: store)
        printEvents(of: watch)
    } catch { fail("open failed: \(error)") }

case "create":
    // create DIR [KEEP_HISTORY] [force]
    let keep = arguments.count > 2 ? Int(arguments[2])! : 0
    let force = arguments.count > 3 && arguments[3] == "force"
    do {
        try StateStore<JSONValue>.create(
            directory: directory, settings: StoreSettings(keepHistory: keep), force: force, options: options())
    } catch { fail("create failed: \(error)") }

case "incr":
    // incr DIR COUNT [LABEL]
    let count = Int(arguments[2])!
    let label = arguments.count > 3 ? arguments[3] : "helper"
    do {
        increment(times: count, store: try StateStore<JSONValue>(directory: directory, options: options(label: label)))
    } catch { fail("open failed: \(error)") }

case "incr-padded":
    // incr-padded DIR N: N increments of "counter" kept as a six-digit string ("100000"…), so
    // every version has the same size (the case where identity shortcuts can be fooled).
    let times = Int(arguments[2])!
    do {
        let store = try StateStore<JSONValue>(directory: directory, options: options())
        for _ in 0..<times {
            let updated = try store.updateWithResult { state -> Int in
                guard case .string(let text)? = state["padded"], let current = Int(text) else { return -1 }
                try state.set(.string(String(current + 1)), forKey: "padded")
                return current + 1
            }
            emit("\(updated.snapshot.version) \(updated.value)")
        }
    } catch { fail("update failed: \(error)") }

case "timeouts":
    // timeouts DIR N: N updates with a 5 ms lock timeout (against a holder the test stopped);
    // prints "before FDS THREADS", then "after FDS THREADS TIMEOUTS".
    func counts() -> String {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
        return "\(fds) \(threads)"
    }
    let attempts = Int(arguments[2])!
    do {
        let store = try StateStore<JSONValue>(directory: directory, options: StateStoreOptions(lockTimeout: .milliseconds(5)))
        emit("before \(counts())")
        var timeouts = 0
        for _ in 0..<attempts {
            do { try store.update { try $0.set(1, forKey: "x") } } catch let error as StateStoreError where error.code == .lockTimeout {
                timeouts += 1
            }
        }
        emit("after \(counts()) \(timeouts)")
    } catch { fail("timeouts failed: \(error)") }

case "incr-fast":
    // incr-fast DIR N: N increments at durability none (thousands a second), printing nothing.
    let times = Int(arguments[2])!
    do {
        var fast = options()
        fast.durability = .none
        let store = try StateStore<JSONValue>(directory: directory, options: fast)
        for _ in 0..<times { try store.update { try $0.set(.int(($0["counter"]?.intValue ?? 0) + 1), forKey: "counter") } }
    } catch { fail("update failed: \(error)") }

case "update-once":
    // update-once DIR TIMEOUT_MS: one increment with the given lock timeout; prints the error code on failure.
    var opts = options()
    opts.lockTimeout = .milliseconds(Int(arguments[2])!)
    do {
        let store = try StateStore<JSONValue>(directory: directory, options: opts)
        increment(times: 1, store: store)
    } catch { fail("open failed: \(error)") }

case "read-loop":
    // read-loop DIR: reads until stdin closes; prints "reads N errors M last V" and exits 1 on any bad read.
    let store: ReadOnlyStateStore<JSONValue>
    do { store = try ReadOnlyStateStore<JSONValue>(directory: directory) } catch {
        fail("open failed: \(error)")
    }
    let done = Atomic(false)
    Thread.detachNewThread {
        while readLine() != nil {}
        done.store(true, ordering: .relaxed)
    }
    var reads = 0
    var lastVersion: UInt64 = 0
    while !done.load(ordering: .relaxed) {
        do {
            let snapshot = try store.read()
            guard snapshot.version >= lastVersion else { fail("version went backwards: \(lastVersion) -> \(snapshot.version)") }
            guard snapshot.state["counter"]?.intValue ?? 0 == Int64(snapshot.version) else {
                fail("state of version \(snapshot.version) has counter \(String(describing: snapshot.state["counter"]))")
            }
            lastVersion = snapshot.version
            reads += 1
        } catch {
            fail("read \(reads) failed: \(error)")
        }
    }
    emit("reads \(reads) last \(lastVersion)")

case "watch":
    // watch DIR [poll]: prints "v <version> <counter>" per snapshot and one line per other event
    // until stdin closes, then "stats <delivered> <missed> <problems> <resynchronizations> <mode>"
    // (also at each line "stats" on stdin);
    // exits 1 if versions went backwards within a store identity.
    // watch DIR nocheck: inotify alone, without the consistency check, so that a version
    // inotify did not announce is never delivered.
    var watchOptions = WatchOptions()
    watchOptions.forcePolling = arguments.count > 2 && arguments[2] == "poll"
    if arguments.count > 2 && arguments[2] == "nocheck" { watchOptions.consistencyCheckInterval = nil }
    do {
        let store = try ReadOnlyStateStore<JSONValue>(directory: directory)
        let watch = StateObservation(options: watchOptions).events(in: store)
        printEvents(of: watch)
    } catch { fail("open failed: \(error)") }

case "churn":
    // churn DIR CYCLES: subscribes and cancels CYCLES times; prints "fds N threads N" before and
    // after (after: once the counts are back to where they were, or after 6 s, as dispatch lets
    // an idle worker thread go only after a while).
    let cycles = Int(arguments[2])!
    @Sendable func census() -> (fds: Int, threads: Int) {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
        return (fds, threads)
    }
    @Sendable func line(_ counts: (fds: Int, threads: Int)) -> String { "fds \(counts.fds) threads \(counts.threads)" }
    do {
        let store = try ReadOnlyStateStore<JSONValue>(directory: directory)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            func cycle() async {
                var iterator = StateObservation().values(in: store).makeAsyncIterator()
                _ = try? await iterator.next()
            }
            await cycle()  // warm up: starts the watch hub thread once for the process
            try? await Task.sleep(for: .milliseconds(200))
            let before = census()
            emit(line(before))
            for _ in 0..<cycles { await cycle() }
            var after = census()
            for _ in 0..<60 where after.fds != before.fds || after.threads > before.threads {
                try? await Task.sleep(for: .milliseconds(100))
                after = census()
            }
            emit(line(after))
            done.signal()
        }
        done.wait()
    } catch { fail("open failed: \(error)") }

case "open-or-create":
    // open-or-create DIR: waits for a line on stdin (so that several start at once), opens the
    // store or creates it, increments "counter" once and prints "<version> <counter>".
    _ = readLine()
    do {
        let store = try StateStore<JSONValue>.openOrCreate(directory: directory, initial: ["counter": 0], options: options())
        increment(times: 1, store: store)
    } catch { fail("openOrCreate failed: \(error)") }

case "guarded-bot":
    // guarded-bot DIR: trades (increments "trades") until a halt is committed, re-checking the
    // halt inside each mutation as the README shows; prints "halted after N" and exits 0.
    struct Halted: Error {}
    do {
        let store = try StateStore<JSONValue>(directory: directory, options: options(label: "bot"))
        var trades = 0
        while true {
            do {
                try store.update { state in
                    guard state["halt"] != true else { throw Halted() }
                    try state.set(.int((state["trades"]?.intValue ?? 0) + 1), forKey: "trades")
                }
                trades += 1
            } catch is Halted {
                emit("halted after \(trades)")
                break
            }
        }
    } catch { fail("bot failed: \(error)") }

case "racy-bot":
    // racy-bot DIR: the check-then-act pattern the README warns against: reads the halt flag from a
    // reader, then updates without re-checking; stops once it sees the halt; prints "trades N".
    do {
        let store = try StateStore<JSONValue>(directory: directory, options: options(label: "racy-bot"))
        let reader = try StateObservation().reader(in: store)
        var trades = 0
        while reader.current.state["halt"] != true {
            try store.update { try $0.set(.int(($0["trades"]?.intValue ?? 0) + 1), forKey: "trades") }
            trades += 1
        }
        emit("trades \(trades)")
    } catch { fail("bot failed: \(error)") }

case "hold-lock":
    // hold-lock DIR MS: takes the writer lock through a real update, prints "locked", holds it
    // (inside the mutation) for MS milliseconds, then commits an increment.
    let milliseconds = UInt32(arguments[2])!
    do {
        let store = try StateStore<JSONValue>(directory: directory, options: options())
        try store.update { state in
            emit("locked")
            usleep(milliseconds * 1000)
            try state.set(.int((state["counter"]?.intValue ?? 0) + 1), forKey: "counter")
        }
        emit("released")
    } catch { fail("hold failed: \(error)") }

case "apply-incr":
    // apply-incr DIR COUNT: COUNT increments of "counter" as declarative mutations (combined with
    // other processes' while one holds the lock); prints "<version> <counter at that version>".
    let count = Int(arguments[2])!
    do {
        let store = try StateStore<JSONValue>(directory: directory, options: options())
        for _ in 0..<count {
            let snapshot = try store.apply(.increment(JSONPointer(tokens: ["counter"]), by: 1))
            emit("\(snapshot.version) \(snapshot.state["counter"]?.intValue ?? -1)")
        }
    } catch { fail("apply failed: \(error)") }

case "combine-crash":
    // combine-crash DIR CALL N: one declarative increment of "own" as a combining lock holder
    // (taking what others published), _exiting right after the Nth successful CALL.
    guard let call = SystemCallName(rawValue: arguments[2]), let target = Int(arguments[3]) else {
        fail("combine-crash DIR CALL N")
    }
    do {
        let snapshot = try StateStore<JSONValue>(directory: directory, options: crashing(after: call, count: target)).apply(.increment(JSONPointer(tokens: ["own"]), by: 1))
        emit("\(snapshot.version)")
    } catch { fail("apply failed: \(error)") }

case "crash-after":
    // crash-after DIR CALL N: increments in a loop and _exits right after the Nth successful CALL.
    guard let call = SystemCallName(rawValue: arguments[2]), let target = Int(arguments[3]) else {
        fail("crash-after DIR CALL N")
    }
    do {
        increment(times: Int.max, store: try StateStore<JSONValue>(directory: directory, options: crashing(after: call, count: target)))
    } catch { fail("open failed: \(error)") }

case "registered-reader":
    // registered-reader DIR LABEL reader|watch|typed: a bot registered as LABEL that applies each
    // version it loads. "reader": a StateReader acknowledging from its onEvent callback; "watch":
    // a watch acknowledging after each loop iteration; "typed": a StateReader of {"halt": Bool},
    // which rejects (automatically) a version whose halt is not a boolean.
    // Prints "registered ID" once registered, then "applied V" / "rejected V" per version.
    struct TypedRisk: Codable, Sendable { var halt: Bool? }
    let label = arguments[2]
    let mode = arguments[3]
    do {
        switch mode {
        case "watch":
            let store = try ReadOnlyStateStore<JSONValue>(directory: directory)
            let watch = StateObservation(label: label, acknowledgement: .afterEachIteration).events(in: store)
            var registered = false
            for await event in watch {
                if !registered, case .registered(let id, _) = watch.registration {
                    registered = true
                    emit("registered \(id)")
                }
                switch event {
                case .snapshot(let snapshot): emit("applied \(snapshot.version)")
                case .problem(let error): emit("problem \(error.code)")
                default: break
                }
            }
        case "reader", "typed":
            let store = try ReadOnlyStateStore<TypedRisk>(directory: directory)
            let box = Mutex<StateReader<TypedRisk>?>(nil)
            let ready = DispatchSemaphore(value: 0)
            let reader = try StateObservation(label: label).reader(in: store) { event in
                ready.wait()
                ready.signal()
                switch event {
                case .snapshot(let snapshot):
                    box.withLock { $0 }?.acknowledge(snapshot)
                    emit("applied \(snapshot.version)")
                case .problem(let error) where error.code == .badState:
                    emit("rejected \(error.version ?? 0)")
                default: break
                }
            }
            box.withLock { $0 = reader }
            ready.signal()
            guard case .registered(let id, _) = reader.registration else { fail("not registered: \(reader.registration)") }
            reader.acknowledge(reader.current)
            emit("registered \(id)")
            while true { sleep(3600) }
        default:
            fail("registered-reader DIR LABEL reader|watch|typed")
        }
    } catch { fail("reader failed: \(error)") }

default:
    fail("unknown command \(command)")
}
