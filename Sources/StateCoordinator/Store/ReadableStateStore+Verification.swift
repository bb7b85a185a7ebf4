extension ReadableStateStore {
    /// Checks the whole store: the state file, the lockfile, leftover temp files and every kept
    /// version, listing every problem it finds in one run, each with its
    /// ``VerificationProblem/Kind``. Damage and leftovers are told apart (see
    /// ``VerificationReport``); commits landing meanwhile never show as either.
    public func verify() async -> VerificationReport {
        let backend = backend
        return await io.run { backend.verify() }
    }

    /// The synchronous form of ``verify()``.
    @_disfavoredOverload
    public func verify() -> VerificationReport {
        backend.verify()
    }

    /// ``verify()-7fic0`` for a store that may not open: a missing lockfile, or a plain JSON file where
    /// the state file should be, is reported in the list with everything else.
    /// - Throws: `notFound` when there is no state file, `invalidArgument` for a bad name.
    public static func verify(
        directory: String, name: String = "state", options: Options = Options()
    ) async throws(StateStoreError) -> VerificationReport {
        try await BlockingWorkThread.runOnce("StateCoordinator.verify") { () throws(StateStoreError) in
            try StoreVerifier.run(directory: directory, name: name, options: options)
        }
    }

    /// The synchronous form of ``verify(directory:name:options:)``.
    @_disfavoredOverload
    public static func verify(
        directory: String, name: String = "state", options: Options = Options()
    ) throws(StateStoreError) -> VerificationReport {
        try StoreVerifier.run(directory: directory, name: name, options: options)
    }
}
