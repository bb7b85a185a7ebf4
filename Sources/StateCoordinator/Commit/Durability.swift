/// How much a commit waits for the disk before it returns.
///
/// Every level is atomic: readers see the old or the new state, never a mix, and a process killed
/// at any instant leaves a verifiable state. The levels differ in what survives a power loss or
/// kernel crash; the "Durability levels" article (<doc:DurabilityLevels>) gives measured costs.
public enum Durability: String, Sendable, CaseIterable, Codable {
    /// fsync the temp file before the rename and the directory after it: a returned commit survives
    /// power loss. The default.
    case full
    /// fsync the temp file but not the directory: after a power loss the state is the new or the
    /// previous version, both complete; a returned commit may be lost. For file systems whose
    /// directories cannot be fsynced (some FUSE and shared-folder mounts answer EINVAL).
    case noDirectorySync = "no-dir-sync"
    /// No fsync at all: safe against a killed process, not against power loss, after which the
    /// file may even be empty or an older version on some file systems.
    case none
}
