import Synchronization
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// The pure half of a commit (``BatchPlan``), as a table: a base, a batch of updates, and what the
/// plan decides and refuses. No file is touched.
@Suite("Batch plan")
struct BatchPlanTests {
    /// One update of a test batch.
    enum Step: CustomStringConvertible {
        /// Sets a key to an integer.
        case set(String, Int64)
        /// Sets a key to a string of that many bytes.
        case setLong(String, Int)
        /// Changes nothing.
        case nothing
        /// Changes nothing, but asks to commit anyway.
        case commitAnyway
        /// Expects that version, then sets a key.
        case expecting(UInt64, String, Int64)
        /// Sets a key, then throws.
        case failing(String)
        /// Cancelled before its batch ran.
        case cancelled(String)
        /// Changes the settings' history retention.
        case keepHistory(Int)
        /// Sets a key, then its settings change throws.
        case failingSettings(String)

        var description: String {
            switch self {
            case .set(let key, let value): "set \(key)=\(value)"
            case .setLong(let key, let bytes): "set \(key) to \(bytes) bytes"
            case .nothing: "nothing"
            case .commitAnyway: "commit anyway"
            case .expecting(let version, let key, _): "expect v\(version), set \(key)"
            case .failing(let key): "set \(key), throw"
            case .cancelled(let key): "cancelled \(key)"
            case .keepHistory(let count): "keep \(count)"
            case .failingSettings(let key): "set \(key), settings throw"
            }
        }
    }

    /// What a plan decided, in a comparable form.
    enum Expected: Equatable {
        case nothing
        case unchanged(accepted: [Int])
        case write(accepted: [Int], state: JSONValue)
        case oneByOne([Int])
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var steps: [Step]
        var decision: Expected
        /// The positions refused, and whether as a conflict.
        var refused: [Int: Bool] = [:]
        var schemaForbids: String? = nil

        var testDescription: String { name }
    }

    struct Failure: Error {}

    static let cases: [Case] = [
        Case(name: "one update writes", steps: [.set("a", 1)], decision: .write(accepted: [0], state: ["base": 0, "a": 1])),
        Case(
            name: "updates apply in call order, each to the last one's state", steps: [.set("a", 1), .set("a", 2), .set("b", 3)],
            decision: .write(accepted: [0, 1, 2], state: ["base": 0, "a": 2, "b": 3])),
        Case(name: "a batch that changes nothing writes nothing", steps: [.nothing, .set("base", 0)], decision: .unchanged(accepted: [0, 1])),
        Case(
            name: "one update asking to commit anyway makes a version", steps: [.nothing, .commitAnyway],
            decision: .write(accepted: [0, 1], state: ["base": 0])),
        Case(
            name: "a compare-and-swap on the base's version is accepted", steps: [.expecting(7, "a", 1)],
            decision: .write(accepted: [0], state: ["base": 0, "a": 1])),
        Case(
            name: "a compare-and-swap on another version is a conflict, alone", steps: [.expecting(6, "a", 1), .set("b", 2)],
            decision: .write(accepted: [1], state: ["base": 0, "b": 2]), refused: [0: true]),
        Case(
            name: "a mutation that throws is refused alone, its changes dropped", steps: [.set("a", 1), .failing("x"), .set("b", 2)],
            decision: .write(accepted: [0, 2], state: ["base": 0, "a": 1, "b": 2]), refused: [1: false]),
        Case(name: "a batch whose every update throws writes nothing", steps: [.failing("x")], decision: .nothing, refused: [0: false]),
        Case(
            name: "a cancelled update is skipped, not refused", steps: [.cancelled("x"), .set("a", 1)],
            decision: .write(accepted: [1], state: ["base": 0, "a": 1])),
        Case(name: "a batch of cancelled updates does nothing", steps: [.cancelled("x")], decision: .nothing),
        Case(name: "an oversized update alone is refused", steps: [.setLong("big", 300)], decision: .nothing, refused: [0: false]),
        Case(
            name: "an oversized combination is split", steps: [.setLong("a", 120), .setLong("b", 120)], decision: .oneByOne([0, 1])),
        Case(
            name: "a state the schema forbids, alone, is refused", steps: [.set("forbidden", 1)], decision: .nothing, refused: [0: false],
            schemaForbids: "forbidden"),
        Case(
            name: "a combination the schema forbids is split", steps: [.set("a", 1), .set("forbidden", 1)], decision: .oneByOne([0, 1]),
            schemaForbids: "forbidden"),
        Case(
            name: "a settings change alone makes a version", steps: [.keepHistory(3)], decision: .write(accepted: [0], state: ["base": 0])),
        Case(
            name: "a failing settings change drops its update's state too", steps: [.failingSettings("x"), .set("a", 1)],
            decision: .write(accepted: [1], state: ["base": 0, "a": 1]), refused: [0: false]),
    ]

    @Test(arguments: cases)
    func plan(_ testCase: Case) throws {
        let base: JSONValue = ["base": 0]
        let baseSettings = StoreSettings(maximumStateBytes: 256)
        let baseBytes = try StateEncoding.encode(base, limit: baseSettings.maximumStateBytes)
        let updates = testCase.steps.map(Self.update)
        for (update, step) in zip(updates, testCase.steps) {
            if case .cancelled = step { update.cancel() }
        }
        let plan = BatchPlan(
            updates,
            onto: BatchPlan.Base(version: 7, settings: baseSettings, state: base, checksum: Checksum.of(baseBytes), stateBytes: baseBytes.count),
            changeSettings: { (update, settings) throws(StateStoreError) in try update.settingsChange?(&settings, .directory(SystemCalls.currentDirectory)) },
            encode: { (state, settings) throws(StateStoreError) in try StateEncoding.encode(state, limit: settings.maximumStateBytes) },
            checkSchema: { (_, bytes) throws(StateStoreError) in
                guard let forbidden = testCase.schemaForbids, case .object(let members)? = try? JSONValue(parsing: bytes),
                    members[JSONKey(forbidden)] != nil
                else { return }
                throw StateStoreError(.schemaViolation, "\(forbidden) is forbidden")
            })
        let position = { (update: PendingUpdate<JSONValue>) in updates.firstIndex { $0 === update }! }
        let decided: Expected =
            switch plan.decision {
            case .nothing: .nothing
            case .unchanged(let accepted, _): .unchanged(accepted: accepted.map(position))
            case .write(let version): .write(accepted: version.accepted.map(position), state: version.state)
            case .oneByOne(let accepted): .oneByOne(accepted.map(position))
            }
        #expect(decided == testCase.decision)
        var refused: [Int: Bool] = [:]
        for (update, refusal) in plan.refused {
            if case .conflict = refusal { refused[position(update)] = true } else { refused[position(update)] = false }
        }
        #expect(refused == testCase.refused)
        if case .write(let version) = plan.decision {
            #expect(version.stateBytes == (try StateEncoding.encode(version.state, limit: 256)))
            #expect(version.checksum == Checksum.of(version.stateBytes))
            if testCase.steps.contains(where: { if case .keepHistory = $0 { true } else { false } }) {
                #expect(version.settings.keepHistory == 3)
            } else {
                #expect(version.settings == baseSettings)
            }
        }
    }

    private static func update(_ step: Step) -> PendingUpdate<JSONValue> {
        let settingsChange: PendingUpdate<JSONValue>.SettingsChange?
        switch step {
        case .keepHistory(let count): settingsChange = { (settings, _) throws(StateStoreError) in settings.keepHistory = count }
        case .failingSettings: settingsChange = { (_, _) throws(StateStoreError) in throw StateStoreError(.invalidArgument, "refused") }
        default: settingsChange = nil
        }
        let expected: UInt64? = if case .expecting(let version, _, _) = step { version } else { nil }
        let commitsUnchanged = if case .commitAnyway = step { true } else { false }
        return PendingUpdate(
            expectedVersion: expected, commitsUnchanged: commitsUnchanged, settingsChange: settingsChange,
            mutation: { state in
                switch step {
                case .set(let key, let value), .expecting(_, let key, let value): try state.set(.int(value), forKey: key)
                case .setLong(let key, let bytes): try state.set(.string(String(repeating: "x", count: bytes)), forKey: key)
                case .failing(let key):
                    try state.set(.int(1), forKey: key)
                    throw Failure()
                case .cancelled(let key), .failingSettings(let key): try state.set(.int(1), forKey: key)
                case .nothing, .commitAnyway, .keepHistory: break
                }
                return { _ in }
            },
            failure: { _ in })
    }
}
