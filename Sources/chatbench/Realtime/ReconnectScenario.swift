import ArgumentParser
import ChatStore
import Foundation

/// `chatbench reconnect`: every client is dropped at once (a TCP reset, like a network blip), misses a message
/// while away, and reconnects with its last cursor at once. Catch-up time is until every client has said hello,
/// received what it missed and been told `synced`; the upgrade rate counts the WebSocket upgrades per second.
/// It runs once per size in `--sizes` on one server.
struct ReconnectScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconnect", abstract: "Mass reconnect with resume: catch-up time and upgrades per second.")

    @Option(help: "Client counts, one round each.") var sizes = "3000,19000"
    @Option(help: "Users who send the missed messages (they stay connected).") var senders = 20
    @Option(help: "Load worker processes for the clients.") var workers = 3

    func run() async throws {
        let rounds = sizes.split(separator: ",").compactMap { Int($0) }
        let largest = rounds.max() ?? 0
        let server = try ChatdProcess()
        defer { server.stop() }
        // Client i shares a direct conversation with sender i % senders.
        var conversations: [Int64] = []
        let users = try await server.seed(users: senders + largest) { store, ids in
            conversations = try await openWithSenders(store, senders: Array(ids.prefix(senders)), clients: Array(ids.dropFirst(senders)))
        }
        try await server.start()
        print("chatd on port \(server.port)")
        let senderPlans = (0..<senders).map { sender in
            (users[sender].token, stride(from: sender, to: largest, by: senders).map { conversations[$0] })
        }
        let sendersPool = try WorkerPool(port: server.port, plans: [senderPlans], directory: server.root)
        defer { Task { await sendersPool.quit() } }
        _ = try await sendersPool.all(["cmd": "connect", "window": 100])

        var results: [(size: Int, catchUp: Double, upgrades: Double)] = []
        var lost = 0
        var duplicated = 0
        for size in rounds {
            let clients = (0..<size).map { (users[senders + $0].token, [conversations[$0]]) }
            let count = max(1, min(workers, (size + 5_999) / 6_000))
            let pool = try WorkerPool(
                port: server.port, plans: split(clients, into: count), directory: server.root.appendingPathComponent("r\(size)", isDirectory: true).creatingDirectory())
            _ = try await pool.all(["cmd": "connect", "window": 500])
            _ = try await pool.all(["cmd": "drop"])
            // While they are away, one message to each of their conversations (in conversation order, so the
            // senders' round-robin hits each client's conversation once).
            _ = try await sendersPool.stats()
            let rate = 5_000.0
            _ = try await sendersPool.all(["cmd": "send", "rate": rate, "seconds": Double(size) / rate, "senders": 0])
            let sent = try await sendersPool.stats()
            try await Task.sleep(for: .milliseconds(500))
            _ = try await pool.stats()

            let answers = try await pool.all(["cmd": "connect", "resume": true, "window": 1_000])
            let started = answers.map { UInt64(int($0, "started_ns")) }.min() ?? 0
            let lastSynced = answers.map { UInt64(int($0, "last_synced_ns")) }.max() ?? 0
            let lastUpgraded = answers.map { UInt64(int($0, "last_upgraded_ns")) }.max() ?? 0
            let back = answers.reduce(0) { $0 + int($1, "connected") }
            let stats = try await pool.stats()
            let missing = max(0, sent.acked - stats.received) + stats.gaps + (size - back)
            let catchUp = rounded(Double(lastSynced - started) / 1e9, 3)
            let upgrades = Double(back) / (Double(lastUpgraded - started) / 1e9)
            print(
                "\(size) clients dropped, \(sent.acked) messages missed; \(back) back and caught up in \(catchUp) s (\(Int(upgrades)) upgrades/s); \(stats.received) replayed, lost \(missing), duplicated \(stats.duplicates)"
            )
            results.append((size, catchUp, upgrades))
            lost += missing
            duplicated += stats.duplicates
            _ = try await pool.all(["cmd": "close"])
            await pool.quit()
        }
        let big = results.last ?? (0, 0, 0)
        let small = results.first ?? (0, 0, 0)
        printResult([
            "scenario": "reconnect", "connections": big.size, "catch_up_s": big.catchUp, "upgrades_per_s": Int(big.upgrades),
            "small_connections": small.size, "small_catch_up_s": small.catchUp, "small_upgrades_per_s": Int(small.upgrades),
            "lost": lost, "duplicated": duplicated,
        ])
    }
}

/// Direct conversations of client i with sender i % senders; returns them in client order.
func openWithSenders(_ store: Store, senders: [Int64], clients: [Int64]) async throws -> [Int64] {
    try await openDirects(store, clients.indices.map { (senders[$0 % senders.count], clients[$0]) })
}

extension URL {
    func creatingDirectory() throws -> URL {
        try FileManager.default.createDirectory(at: self, withIntermediateDirectories: true)
        return self
    }
}
