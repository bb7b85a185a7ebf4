import Foundation
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// Durability is never weaker than the commit that names a file, and what a power loss under
/// durability `none` leaves is reported for what it is. A power loss is simulated through the
/// system-call seam (``PowerLoss``): everything not fsynced is cut to nothing.
@Suite("Durability after a power loss")
struct DurabilityTests {
    let dir = TemporaryDirectory()
    let loss = PowerLoss()

    func store(_ durability: Durability) throws -> StateStore<JSONValue> {
        var options = StateStoreOptions(durability: durability)
        options.systemCalls = loss.systemCalls
        return try StateStore<JSONValue>(directory: dir.path, options: options)
    }

    /// Found by LazyFS: a schema set at durability `none`, then commits at full durability; after
    /// the power loss the state named an empty schema file.
    @Test func aDurableCommitMakesTheSchemaFileItNamesDurable() throws {
        var options = StateStoreOptions()
        options.systemCalls = loss.systemCalls
        try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false], options: options)
        try store(.none).setSchema(try JSONSchema(["type": "object", "properties": ["halt": ["type": "boolean"]]]))
        let schemaFile = try #require(try dir.names().first { $0.hasPrefix("state.schema-") })
        let durable = try store(.full)
        try durable.update { try $0.set(true, forKey: "halt") }
        #expect(loss.synchronized.withLock { $0 }.contains(schemaFile), "the full commit fsynced the schema file")
        try durable.update { try $0.set(false, forKey: "halt") }
        #expect(loss.synchronized.withLock { $0 }.filter { $0 == schemaFile }.count == 1, "once per process")

        SchemaFile.forgetCache()
        try loss.cut(dir.path)
        let report = try ReadOnlyStateStore<JSONValue>.verify(directory: dir.path)
        #expect(report.isHealthy, "\(report.damage.map(\.description))")
        #expect(try ReadOnlyStateStore<JSONValue>(directory: dir.path).read().state == ["halt": false])
    }

    /// History entries emptied by the loss are damaged history, listed as such beside the good
    /// ones, named by verify, and pruned by one command; the state is fine.
    @Test func historyEmptiedByAPowerLossIsDamagedHistoryNotADamagedStore() throws {
        var options = StateStoreOptions()
        options.systemCalls = loss.systemCalls
        try StateStore<JSONValue>.create(directory: dir.path, initial: ["n": 0], settings: StoreSettings(keepHistory: 20), options: options)
        for n in 1...3 { try store(.full).update { try $0.set(.int(Int64(n)), forKey: "n") } }
        for n in 4...6 { try store(.none).update { try $0.set(.int(Int64(n)), forKey: "n") } }
        try store(.full).update { try $0.set(7, forKey: "n") }
        try loss.cut(dir.path)

        let reader = try ReadOnlyStateStore<JSONValue>(directory: dir.path)
        #expect(try reader.read().state == ["n": 7], "the state itself is fine")
        let listing = try reader.historyListing()
        #expect(listing.entries.map(\.version) == [3, 2, 1, 0])
        #expect(listing.damaged.map(\.version) == [6, 5, 4])
        let verify = try ReadOnlyStateStore<JSONValue>.verify(directory: dir.path)
        #expect(Set(verify.damage.map(\.path)) == Set(listing.damaged.map(\.path)), "verify names exactly the damaged entries")

        let statectl = CLI(directory: dir.path)
        let history = try statectl("history")
        #expect(history.status == 5 && history.stdout.split(separator: "\n").count == 4, "\(history)")
        #expect(history.stderr.contains("--prune-damaged") && !history.stderr.contains("init --force"), "\(history)")
        #expect(try store(.full).pruneDamagedHistory().map(\.version) == [4, 5, 6])
        #expect(try statectl("history").status == 0)
        #expect(try statectl("verify").status == 0)
    }

    /// After `init --force` over a lost store, numbering continues above every version a
    /// surviving file names, a history set aside by an earlier --force included.
    @Test func initForceNumbersAboveEverySurvivingFile() throws {
        let statectl = CLI(directory: dir.path)
        #expect(try statectl("init", "--keep-history", "3").status == 0)
        for n in 1...5 { #expect(try statectl("set", "/n", "\(n)").status == 0) }
        #expect(try statectl("init", "--force").status == 0)
        truncate(dir.file("state.json"), 0)  // the new store's only file, lost
        let forced = try statectl("init", "--force")
        #expect(forced.status == 0 && forced.stdout == "5\n", "above version 4, kept in the history set aside: \(forced)")
    }
}
