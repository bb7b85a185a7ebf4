/// The pure half of a commit: what a batch of updates makes of the base version, decided without
/// touching a file. Each update's mutation is applied in call order to the state the previous ones
/// left; one whose expectation or mutation fails is refused alone. The combined state is then
/// encoded (size limit, NaN) and checked against the schema; the commit (``BatchCommit``) does
/// what the plan decides.
struct BatchPlan<State: Codable & Sendable> {
    /// The committed version the batch applies to.
    struct Base {
        var version: UInt64
        var settings: StoreSettings
        var state: State
        /// Its state's checksum and length, to tell a batch that changed nothing.
        var checksum: String
        var stateBytes: Int
    }

    /// A new version to write.
    struct NewVersion {
        var state: State
        var stateBytes: [UInt8]
        var checksum: String
        var settings: StoreSettings
        /// The updates it includes, in call order.
        var accepted: [PendingUpdate<State>]
        /// The version to commit it as when a mirror's update asks for one (above the base's + 1
        /// when the source's history lacked the versions between); nil for the base's + 1.
        var mirroredVersion: UInt64? = nil
    }

    /// What the commit does with the batch.
    enum Decision {
        /// No update is left to commit (each was refused or cancelled).
        case nothing
        /// The updates changed nothing: each is answered with the base version (once the lock is
        /// known to be still held), carrying the state they returned.
        case unchanged(accepted: [PendingUpdate<State>], state: State)
        /// Write one new version holding every accepted update.
        case write(NewVersion)
        /// Their combined state was refused (too large, not encodable, against the schema), and
        /// more than one contributed: each is committed on its own, so only the offending one fails.
        case oneByOne([PendingUpdate<State>])
    }

    /// Why one update was refused.
    enum Refusal {
        /// It expected another version than the base's.
        case conflict(expected: UInt64, current: UInt64)
        /// Its mutation or settings change threw, or (alone) its state was refused.
        case failed(any Error)
    }

    /// The decision, and the updates refused on the way (each to be answered with its refusal).
    var decision: Decision
    var refused: [(update: PendingUpdate<State>, refusal: Refusal)] = []

    /// Plans `updates` onto `base`.
    ///
    /// - Parameters:
    ///   - changeSettings: runs an update's settings change (a schema change writes its file).
    ///   - limit: encodes a state within the settings' size limit, or throws.
    ///   - checkSchema: throws when the settings name a schema the state bytes break.
    init(
        _ updates: [PendingUpdate<State>], onto base: Base,
        changeSettings: (PendingUpdate<State>, inout StoreSettings) throws(StateStoreError) -> Void,
        encode: (State, StoreSettings) throws(StateStoreError) -> [UInt8],
        checkSchema: (StoreSettings, [UInt8]) throws(StateStoreError) -> Void
    ) {
        // No key path literals here: in generic code each is instantiated at run time on every
        // call (demangling its generic arguments), which profiled at 5% of a 1 KiB commit.
        var state = base.state
        var settings = base.settings
        var accepted: [PendingUpdate<State>] = []
        var refused: [(update: PendingUpdate<State>, refusal: Refusal)] = []
        for update in updates {
            if let expected = update.expectedVersion, expected != base.version {
                refused.append((update, .conflict(expected: expected, current: base.version)))
                continue
            }
            if let mirrored = update.mirroredVersion, mirrored <= base.version {
                refused.append((update, .conflict(expected: mirrored - 1, current: base.version)))
                continue
            }
            guard update.beginApplying() else { continue }
            var candidate = state
            var candidateSettings = settings
            do {
                try update.apply(to: &candidate)
                try changeSettings(update, &candidateSettings)
                state = candidate
                settings = candidateSettings
                accepted.append(update)
            } catch {
                refused.append((update, .failed(error)))
            }
        }
        self.refused = refused
        guard !accepted.isEmpty else {
            decision = .nothing
            return
        }
        let stateBytes: [UInt8]
        do {
            stateBytes = try encode(state, settings)
            // Before anything is written: a state the store's schema refuses is never committed.
            try checkSchema(settings, stateBytes)
        } catch {
            if accepted.count > 1 {
                decision = .oneByOne(accepted)
            } else {
                self.refused.append((accepted[0], .failed(error)))
                decision = .nothing
            }
            return
        }
        let checksum = Checksum.of(stateBytes)
        if checksum == base.checksum, stateBytes.count == base.stateBytes, settings == base.settings,
            !accepted.contains(where: { $0.commitsUnchanged })
        {
            decision = .unchanged(accepted: accepted, state: state)
        } else {
            decision = .write(
                NewVersion(
                    state: state, stateBytes: stateBytes, checksum: checksum, settings: settings, accepted: accepted,
                    mirroredVersion: accepted.compactMap { $0.mirroredVersion }.max()))
        }
    }
}
