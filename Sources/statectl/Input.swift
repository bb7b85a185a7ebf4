import ArgumentParser
import Foundation
import StateCoordinator

/// Reading VALUE arguments and JSON documents from files or stdin.
enum Input {
    /// Parses a VALUE argument; a bare word that is not JSON is a usage error with a hint.
    static func value(_ text: String) throws -> JSONValue {
        do {
            return try JSONValue(parsing: Array(text.utf8))
        } catch {
            let looksLikeWord = !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || "_-.:/".contains($0) }
            let hint = looksLikeWord ? " To set a string, quote it as JSON: '\"\(text)\"'." : ""
            throw CLIFailure(.usage, "VALUE \(text) is not JSON (\(error)).\(hint)")
        }
    }

    /// Reads a whole JSON document from FILE, or stdin for nil or "-", refusing more than `limit` bytes.
    static func document(from source: String?, limit: Int) throws -> JSONValue {
        let name = source == nil || source == "-" ? "stdin" : source!
        let bytes = try readAll(name == "stdin" ? nil : name, upTo: limit + 1)
        guard bytes.count <= limit else {
            throw CLIFailure(.failure, "\(name) is larger than the store's limit of \(limit) bytes; nothing was committed.")
        }
        do {
            return try JSONValue(parsing: bytes)
        } catch {
            throw CLIFailure(.failure, "\(name) is \(error); nothing was committed.")
        }
    }

    /// Reads a file (stdin for nil) with plain read(2) calls, at most `count` bytes: every failure
    /// (a directory, EIO) is an error to report, never a trap (FileHandle traps on them).
    private static func readAll(_ path: String?, upTo count: Int) throws -> [UInt8] {
        let name = path ?? "stdin"
        let fd = path.map { open($0, O_RDONLY | O_CLOEXEC) } ?? STDIN_FILENO
        guard fd >= 0 else {
            throw CLIFailure(.failure, "cannot read \(name): \(String(cString: strerror(errno))); nothing was committed.")
        }
        defer { if path != nil { close(fd) } }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while bytes.count < count {
            let read = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, min($0.count, count - bytes.count)) }
            if read == 0 { break }
            if read < 0 {
                if errno == EINTR { continue }
                throw CLIFailure(.failure, "cannot read \(name): \(String(cString: strerror(errno))); nothing was committed.")
            }
            bytes += chunk[..<read]
        }
        return bytes
    }

    /// Parses a POINTER argument (a malformed one is a usage error).
    static func pointer(_ text: String) throws -> JSONPointer {
        try JSONPointer(text)
    }
}
