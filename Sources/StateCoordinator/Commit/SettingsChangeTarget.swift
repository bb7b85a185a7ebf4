import SystemPackage

/// Where a settings change writes what it needs (a schema): the store directory, under the
/// writer lock, or the store's keys on etcd, before the transaction that commits the change.
enum SettingsChangeTarget: Sendable {
    case directory(FileDescriptor)
    case etcd(EtcdStoreAccess)
}
