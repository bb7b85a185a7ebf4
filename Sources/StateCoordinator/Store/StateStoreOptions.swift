import CoreMetrics
import Foundation
import Logging

extension ReadableStateStore {
    /// How this process uses a store; see ``StateStoreOptions``.
    public typealias Options = StateStoreOptions
}

/// How this process uses a store. Unlike ``StoreSettings`` these are per process, not per store.
public struct StateStoreOptions: Sendable {
    /// The default time to wait for the writer lock: 10 seconds.
    public static var defaultLockTimeout: Duration { .seconds(10) }

    /// How long a writer waits for the lock before failing with ``StateStoreError/Code/lockTimeout``.
    public var lockTimeout: Duration = StateStoreOptions.defaultLockTimeout
    /// What a commit waits for before it returns; see ``Durability``.
    public var durability: Durability = .full
    /// Recorded as the writer's label in every version this process commits.
    public var label: String = ProcessInfo.processInfo.processName
    /// Open a store on a network file system (NFS, SMB/CIFS, …) for writing anyway. There `flock`
    /// may be emulated or a no-op, so writers on different hosts can lose each other's updates.
    public var allowNetworkFileSystem = false
    /// Where the store logs (info and below: orphan removal, recovery). The library never
    /// bootstraps logging; the default discards everything.
    public var logger = Logger(label: "StateCoordinator", factory: { _ in SwiftLogNoOpLogHandler() })
    /// Combine declarative mutations with other processes' (`StateStore.apply(_:expecting:)`):
    /// publish them while another process holds the lock, and, holding it, commit the ones
    /// others published. On by default; off, this process commits each of its updates itself and
    /// takes no one else's (it still settles what a holder that died left, as every writer does).
    public var combinesUpdates = true
    /// The system-call seam; tests replace it to inject failures.
    @_spi(FaultInjection) public var systemCalls: SystemCalls = .live

    /// Where the store's writer figures go (commit and fsync durations, lock wait, batch sizes,
    /// conflicts, lock timeouts; the DocC article **The monitoring sidecar** lists the names), or
    /// nil for none. A library never bootstraps a global backend: pass the factory of the
    /// application's own (swift-prometheus's `PrometheusMetricsFactory`, for one).
    public var metricsFactory: (any MetricsFactory)?

    /// Options with the defaults.
    public init() {}

    /// Options with the given values; the rest keep their defaults.
    public init(
        lockTimeout: Duration = StateStoreOptions.defaultLockTimeout, durability: Durability = .full, label: String? = nil,
        allowNetworkFileSystem: Bool = false, logger: Logger? = nil
    ) {
        self.lockTimeout = lockTimeout
        self.durability = durability
        if let label { self.label = label }
        self.allowNetworkFileSystem = allowNetworkFileSystem
        if let logger { self.logger = logger }
    }
}
