import ArgumentParser
import Foundation
import StateCoordinator

/// A failure of a command: one line for stderr and the documented exit code.
struct CLIFailure: Error {
    /// The exit codes listed in `statectl --help`.
    enum Code: Int32 {
        case failure = 1, usage = 2, conflict = 3, lockTimeout = 4, corrupt = 5, notFound = 6, deadline = 7
        /// The rename (or the directory fsync) reported an error after it took effect: the new
        /// version is committed and visible, but may not survive a power loss. Do not retry.
        case committedDurabilityUnknown = 8
        /// The store could not find out whether the new version was committed: read it first.
        case outcomeUnknown = 9
        /// --await-ack: the version is committed, but a reader lagged past --ack-timeout, rejected
        /// it, or a label named had no live reader.
        case acknowledgementsIncomplete = 10
        /// The store's schema refuses the state: nothing was committed.
        case schemaViolation = 11
        /// A store on etcd: no member could be reached, or the cluster had no leader, within the
        /// timeout. The message names the endpoints tried.
        case unavailable = 12
    }

    var code: Code
    var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Maps an error of the library (or of this tool) to its exit code; nil for anything else
    /// (ArgumentParser's own errors, which it reports itself).
    init?(known error: any Error) {
        switch error {
        case let failure as CLIFailure:
            self = failure
        case let error as StateStoreError:
            switch error.outcome {
            case .committedDurabilityUnknown?: self.init(.committedDurabilityUnknown, error.description)
            case .unknown?: self.init(.outcomeUnknown, error.description)
            case .notCommitted?, nil: self.init(Self.code(for: error.code), error.description)
            }
        case let error as JSONPointerError:
            self.init(error.kind == .malformed ? .usage : .notFound, error.description)
        case let error as JSONPatchError:
            let code: Code =
                switch error.kind {
                case .malformed: .usage
                case .notFound: .notFound
                case .testFailed: .conflict
                }
            self.init(code, "\(error); nothing was committed")
        case let error as JSONValue.ArithmeticError:
            self.init(.failure, "cannot increment: \(error)")
        case let error as StateMutationError:
            let code: Code =
                switch error.kind {
                case .malformed: .usage
                case .notFound: .notFound
                case .testFailed: .conflict
                case .notANumber: .failure
                }
            self.init(code, error.description)
        default:
            return nil
        }
    }

    private static func code(for code: StateStoreError.Code) -> Code {
        switch code {
        case .notFound: .notFound
        case .conflict: .conflict
        case .lockTimeout: .lockTimeout
        case .corrupt, .unverifiable, .symbolicLink: .corrupt
        case .invalidArgument: .usage
        case .schemaViolation: .schemaViolation
        case .unavailable: .unavailable
        default: .failure
        }
    }

    /// Prints `statectl: message` on one line of stderr and exits with the code.
    static func report(_ failure: CLIFailure) -> Never {
        // One line, safe for a terminal: messages carry text others chose (member names, labels).
        let line = TerminalText.safe(failure.message.split(whereSeparator: \.isNewline).joined(separator: " "))
        FileHandle.standardError.write(Data("statectl: \(line)\n".utf8))
        exit(failure.code.rawValue)
    }
}
