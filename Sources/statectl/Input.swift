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
        let handle: FileHandle
        if name == "stdin" {
            handle = FileHandle.standardInput
        } else {
            guard let file = FileHandle(forReadingAtPath: name) else {
                throw CLIFailure(.failure, "cannot read \(name): \(String(cString: strerror(errno))); nothing was committed.")
            }
            handle = file
        }
        var bytes = Data()
        while bytes.count <= limit, case let chunk = handle.availableData, !chunk.isEmpty {
            bytes.append(chunk)
        }
        guard bytes.count <= limit else {
            throw CLIFailure(.failure, "\(name) is larger than the store's limit of \(limit) bytes; nothing was committed.")
        }
        do {
            return try JSONValue(parsing: bytes)
        } catch {
            throw CLIFailure(.failure, "\(name) is \(error); nothing was committed.")
        }
    }

    /// Parses a POINTER argument (a malformed one is a usage error).
    static func pointer(_ text: String) throws -> JSONPointer {
        try JSONPointer(text)
    }
}
