import Dispatch
import Foundation

/// SIGTERM and SIGINT for a registered watcher: its registration is removed before it exits
/// (on etcd, its record and roster entry, so that a reader stopped on purpose is not left to
/// look like a host cut off), then it exits with 128 + the signal, as if the signal had ended it.
enum GracefulStop {
    /// Sources must live as long as the process.
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func install(_ cleanup: @escaping @Sendable () async -> Void) {
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                Task {
                    await cleanup()
                    exit(128 + number)
                }
            }
            source.resume()
            sources.append(source)
        }
    }
}
