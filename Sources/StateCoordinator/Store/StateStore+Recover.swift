extension StateStore {
    /// Repairs a store whose state file was replaced by a foreign plain-JSON write (an old bot
    /// still calling `os.replace`) or is damaged, under the writer lock.
    ///
    /// ``RecoveryAction/adopt`` makes the plain JSON content the next version;
    /// ``RecoveryAction/restore`` brings back the newest kept version that verifies. Either way
    /// the store keeps its identity, settings and schema (carried forward from what survives: the
    /// damaged file's header, else the newest kept version), the new version numbers on from the
    /// one replaced, the state is checked against the schema, and the replaced file is first
    /// linked beside the store as `NAME.replaced-STAMP.json`. Readers see the new version as any
    /// other.
    ///
    /// - Parameters:
    ///   - directory: The store's directory.
    ///   - name: The store's name.
    ///   - action: Adopt the plain content, or restore the last kept version.
    ///   - dryRun: Only work out and return what would be done: nothing is locked or written.
    ///   - options: The writer's options (lock timeout, durability, label).
    /// - Returns: What was done (or would be).
    /// - Throws: `invalidArgument` when the state file verifies (nothing to recover) or `adopt`
    ///   finds no plain JSON; `notFound` when there is no store, no lockfile, or (`restore`) no kept
    ///   version that verifies; `schemaViolation` when the schema refuses the recovered state;
    ///   `lockTimeout`; and the errors of the commit's system calls.
    @discardableResult
    public static func recover(
        directory: String, name: String = "state", _ action: RecoveryAction, dryRun: Bool = false,
        options: Options = Options()
    ) async throws(StateStoreError) -> RecoveryOutcome {
        try await BlockingWorkThread.runOnce("StateCoordinator.recover") { () throws(StateStoreError) in
            try recover(directory: directory, name: name, action, dryRun: dryRun, options: options)
        }
    }

    /// The synchronous form of ``recover(directory:name:_:dryRun:options:)``.
    @_disfavoredOverload
    @discardableResult
    public static func recover(
        directory: String, name: String = "state", _ action: RecoveryAction, dryRun: Bool = false,
        options: Options = Options()
    ) throws(StateStoreError) -> RecoveryOutcome {
        let handle = StoreHandle(directory: directory, files: try StoreFiles(name: name), options: options, forWriting: true)
        return try StoreRecovery(handle: handle).run(action, dryRun: dryRun)
    }
}
