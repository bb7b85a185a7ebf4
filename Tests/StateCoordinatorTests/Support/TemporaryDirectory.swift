import Foundation
@testable import StateCoordinator

/// A fresh directory under the system temp directory, removed when the value is dropped.
final class TemporaryDirectory: Sendable {
    let path: String

    init() {
        var template = Array((NSTemporaryDirectory() + "/statecoordinator-test-XXXXXX").utf8CString)
        guard let result = mkdtemp(&template) else { fatalError("mkdtemp failed: \(errno)") }
        path = String(cString: result)
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// The names in the directory, sorted.
    func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    /// The names in a subdirectory, sorted.
    func names(in subdirectory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: file(subdirectory)).sorted()
    }

    /// Names of leftover temp files of the store `state`.
    func tempFiles(store: String = "state") throws -> [String] { try names().filter { $0.hasPrefix(".\(store).tmp-") } }

    func contents(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: file(name))) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// What an operator does who "re-creates" a lockfile: deletes it and creates an empty one, a new
/// inode under the same name.
func replaceWithEmptyFile(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
    _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
}

extension ReadableStateStore {
    /// The store's files (tests of stores in a directory reach into them).
    var handle: StoreHandle { fileHandle! }
}
