import CoreMetrics

/// A writer's figures, through swift-metrics, to the factory in ``StateStoreOptions/metricsFactory``.
/// Names follow Prometheus conventions; the one dimension is the store's name.
struct WriterMetrics: Sendable {
    /// One commit: from the writer lock taken to the rename done (and the directory fsynced).
    let commitDuration: Timer
    /// `fsync` of the temp file.
    let fileSyncDuration: Timer
    /// `fsync` of the directory after the rename.
    let directorySyncDuration: Timer
    /// Time waiting for the writer lock.
    let lockWait: Timer
    /// Updates committed by one batch (group commit).
    let batchSize: Recorder
    /// Compare-and-swap updates refused because the store had moved on.
    let conflicts: Counter
    /// Lock waits that timed out.
    let lockTimeouts: Counter

    static let names = [
        "statecoord_commit_duration_seconds", "statecoord_fsync_duration_seconds", "statecoord_lock_wait_seconds",
        "statecoord_batch_updates", "statecoord_conflicts_total", "statecoord_lock_timeouts_total",
    ]

    init?(_ options: StateStoreOptions, store: String) {
        guard let factory = options.metricsFactory else { return nil }
        let dimensions = [("store", store)]
        commitDuration = Timer(label: "statecoord_commit_duration_seconds", dimensions: dimensions, factory: factory)
        fileSyncDuration = Timer(label: "statecoord_fsync_duration_seconds", dimensions: dimensions + [("target", "file")], factory: factory)
        directorySyncDuration = Timer(label: "statecoord_fsync_duration_seconds", dimensions: dimensions + [("target", "directory")], factory: factory)
        lockWait = Timer(label: "statecoord_lock_wait_seconds", dimensions: dimensions, factory: factory)
        batchSize = Recorder(label: "statecoord_batch_updates", dimensions: dimensions, aggregate: true, factory: factory)
        conflicts = Counter(label: "statecoord_conflicts_total", dimensions: dimensions, factory: factory)
        lockTimeouts = Counter(label: "statecoord_lock_timeouts_total", dimensions: dimensions, factory: factory)
    }
}
