import ArgumentParser
import Foundation
import StateCoordinator

/// The scene's Swift bot: the same loop as Tools/demo/bots/python_bot.py, through the library.
/// Trades every 20–60 ms; the halt and the limit are checked inside the update, under the writer
/// lock; the order (a line in the log: the bot's trade count after it) goes out only after the
/// commit returned. Between trades a registered `StateReader` acknowledges every version seen.
struct SwiftBot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bot", abstract: "One Swift trading bot (started by the scene).", shouldDisplay: false)

    @Option var dir: String
    @Option var label: String
    @Option(help: "Where to append the bot's trade count after each trade it was told was committed.") var log: String

    func run() async throws {
        let store = try await StateStore<TradingState>(
            directory: dir, options: StateStoreOptions(lockTimeout: .seconds(2), label: label))
        let reader = try await StateObservation(label: label).reader(in: store)
        let stop = DispatchSource.makeSignalSource(signal: SIGTERM, queue: DispatchQueue(label: "swift-bot.signals"))
        signal(SIGTERM, SIG_IGN)
        stop.setEventHandler {
            reader.close()  // removes the registry entry
            Foundation.exit(0)
        }
        stop.resume()
        let log = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw ValidationError("cannot open --log: \(String(cString: strerror(errno)))") }
        let label = label
        var acknowledged: UInt64 = 0
        while true {
            let result = try await store.updateWithResult { state -> Int? in
                guard !state.halt else { return nil }  // nothing changed: nothing committed
                let position = state.positions[label, default: 0] + [-1, 1].randomElement()! * Int.random(in: 1...5)
                guard abs(position) <= state.limits.maxPosition else { return nil }  // over the limit: no trade
                state.positions[label] = position
                state.trades[label, default: 0] += 1
                return state.trades[label]
            }
            if let count = result.value {
                let line = Array("\(count)\n".utf8)
                _ = line.withUnsafeBytes { write(log, $0.baseAddress, $0.count) }  // the order goes out now
            }
            let nextTrade = ContinuousClock.now + .milliseconds(Int.random(in: 20...60))
            while true {  // until the next trade, apply (acknowledge) every version seen
                let current = reader.current
                if current.version > acknowledged {
                    reader.acknowledge(version: current.version)  // its halt flag and limits now rule this bot
                    acknowledged = current.version
                }
                if ContinuousClock.now >= nextTrade && !current.state.halt { break }
                let until = max(nextTrade, ContinuousClock.now + (current.state.halt ? .seconds(1) : .zero))
                await Self.wait(for: reader, newerThan: acknowledged, until: until)
            }
        }
    }

    /// Returns when the reader holds a version newer than `version`, or at `deadline`.
    static func wait(for reader: StateReader<TradingState>, newerThan version: UInt64, until deadline: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { _ = try? await reader.wait { $0.version > version } }
            group.addTask { try? await Task.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
        }
    }
}
