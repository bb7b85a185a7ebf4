import Logging
import SystemPackage

/// Finds and removes temp files left by writers that died mid-commit.
///
/// Only names with the store's own temp prefix are touched, and removal only happens while the
/// writer lock is held: no writer that follows the protocol can have a temp file in flight then.
struct OrphanSweeper {
    let calls: SystemCalls
    let directory: FileDescriptor
    let directoryPath: String
    let files: StoreFiles

    /// The names of leftover temp files (read-only; for `status` and `verify`).
    func orphans() throws(StateStoreError) -> [String] {
        do {
            let schemaTemp = SchemaFile.tempPrefix(files)
            return try calls.listDirectory(directory).filter { $0.hasPrefix(files.tempPrefix) || $0.hasPrefix(schemaTemp) }.sorted()
        } catch { throw .system(.removeOrphan, path: directoryPath, errno: error) }
    }

    /// Removes every leftover temp file; call only with the writer lock held.
    /// A file that cannot be removed is logged and left: it blocks nothing.
    func sweep(logger: Logger) throws(StateStoreError) {
        for name in try orphans() {
            do {
                try calls.unlink(directory, name, false)
                logger.info("removed orphaned temp file of a writer that died mid-commit", metadata: ["file": "\(directoryPath)/\(name)"])
            } catch {
                logger.warning("could not remove orphaned temp file", metadata: ["file": "\(directoryPath)/\(name)", "errno": "\(error)"])
            }
        }
    }
}
