import Foundation
import Synchronization
import SystemPackage

@testable import StateCoordinator

/// A scripted libinotifytools for a watch loop: the test decides which events arrive. Each
/// instance's descriptor is a pipe the fake writes a byte to when it has events (or while reads
/// fail), so the loop polls it as it polls a real one.
final class FakeInotify: Sendable {
    private struct Script {
        var queue: [InotifyEvent] = []
        /// The latest watch of each directory, by its plain path (spellings such as `DIR/.`
        /// folded: they name the same directory).
        var watches: [String: Int32] = [:]
        /// Every path watched in this instance, as spelled.
        var spellings: [String] = []
        var nextWatch: Int32 = 1
        var pipe: (read: Int32, write: Int32)?
        /// Initializations still to fail with `initializeError`.
        var initializeFailures: Int
        /// While set, reading the descriptor fails with this errno.
        var readError: Int32?
        var initializations = 0
        var cleanups = 0
        var failedReads = 0
    }

    private let script: Mutex<Script>
    let initializeError: Int32?
    let watchError: Int32?

    /// - Parameter initializeFailures: how many initializations fail with `initializeError`
    ///   (every one by default).
    init(initializeError: Int32? = nil, initializeFailures: Int = .max, watchError: Int32? = nil) {
        self.initializeError = initializeError
        self.watchError = watchError
        script = Mutex(Script(initializeFailures: initializeError == nil ? 0 : initializeFailures))
    }

    /// Delivers an event to the loop.
    func send(_ event: InotifyEvent) {
        let pipe = script.withLock { script in
            script.queue.append(event)
            return script.pipe
        }
        if let pipe { Self.poke(pipe.write) }
    }

    /// Makes every read of the descriptor fail with `errno` (nil: stop failing).
    func failReads(with errno: Int32?) {
        let pipe = script.withLock { script in
            script.readError = errno
            return script.pipe
        }
        if let pipe { Self.poke(pipe.write) }
    }

    /// The watch descriptor of a directory's latest watch, if it is watched.
    func watch(of path: String) -> Int32? { script.withLock { $0.watches[path] } }

    /// The paths watched in the current instance, as spelled.
    var spellings: [String] { script.withLock { $0.spellings } }

    var initializations: Int { script.withLock { $0.initializations } }
    var cleanups: Int { script.withLock { $0.cleanups } }
    var failedReads: Int { script.withLock { $0.failedReads } }

    var calls: InotifyCalls {
        InotifyCalls(
            open: {
                self.script.withLock { script -> Result<FileDescriptor, InotifyCalls.InotifyFailure> in
                    script.initializations += 1
                    if script.initializeFailures > 0, let error = self.initializeError {
                        script.initializeFailures -= 1
                        return .failure(.init(errno: error))
                    }
                    var fds: [Int32] = [0, 0]
                    guard pipe(&fds) == 0 else { return .failure(.init(errno: errno)) }
                    _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
                    script.pipe = (fds[0], fds[1])
                    if script.readError != nil || !script.queue.isEmpty { Self.poke(fds[1]) }
                    return .success(FileDescriptor(rawValue: fds[0]))
                }
            },
            close: {
                self.script.withLock { script in
                    script.cleanups += 1
                    script.watches = [:]
                    script.spellings = []
                    script.nextWatch = 1  // a new instance numbers its watches from 1 again, as the kernel does
                    if let pipe = script.pipe {
                        Glibc.close(pipe.read)
                        Glibc.close(pipe.write)
                    }
                    script.pipe = nil
                }
            },
            watch: { path, _ in
                if let error = self.watchError { return .failure(.init(errno: error)) }
                return .success(
                    self.script.withLock { script in
                        let watch = script.nextWatch
                        script.nextWatch += 1
                        var plain = path
                        while plain.hasSuffix("/.") { plain.removeLast(2) }
                        script.watches[plain] = watch
                        script.spellings.append(path)
                        return watch
                    })
            },
            read: { fd, _ in
                self.script.withLock { script -> Result<[InotifyEvent], InotifyCalls.InotifyFailure> in
                    if let error = script.readError {
                        script.failedReads += 1
                        return .failure(.init(errno: error))  // the byte stays: the descriptor stays readable
                    }
                    var byte: UInt8 = 0
                    while Glibc.read(fd.rawValue, &byte, 1) > 0 {}
                    defer { script.queue.removeAll() }
                    return .success(script.queue)
                }
            })
    }

    /// A loop that runs on this fake.
    func makeLoop() -> WatchLoop { WatchLoop(calls: calls) }

    private static func poke(_ fd: Int32) {
        var byte: UInt8 = 1
        _ = Glibc.write(fd, &byte, 1)
    }
}
