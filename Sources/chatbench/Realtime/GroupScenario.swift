import ArgumentParser
import Foundation

/// `chatbench group`: one member broadcasts to a large group over WebSockets. Paced broadcasts give the time until
/// the last member has each one (p99); a burst gives deliveries per second. The same is then measured against the
/// raw ceiling — the same number of loopback connections receiving the same frame bytes written with one plain
/// `write()` per delivery — and the result is stated as a ratio to it.
struct GroupScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "Broadcast to a large group: deliveries/s and p99 against the raw ceiling.")

    @Option(help: "Members of the group (each one connection).") var groupSize = 3_000
    @Option(help: "Paced broadcasts for the latency figure.") var paced = 30
    @Option(help: "Seconds between paced broadcasts.") var pace = 0.2
    @Option(help: "Back-to-back broadcasts for the throughput figure.") var burst = 100
    @Option(help: "Load worker processes.") var workers = 2

    func run() async throws {
        let server = try ChatdProcess()
        defer { server.stop() }
        var group: Int64 = 0
        let users = try await server.seed(users: groupSize) { store, ids in
            group = try await store.conversations.createGroup(creator: ids[0], title: "everyone", members: Array(ids.dropFirst())).id
        }
        try await server.start()
        // The broadcaster is the first client of worker 0.
        let pool = try WorkerPool(
            port: server.port, plans: split(users.map { ($0.token, [group]) }, into: workers), directory: server.root)
        defer { Task { await pool.quit() } }
        let connected = try await pool.all(["cmd": "connect", "window": 500]).reduce(0) { $0 + int($1, "connected") }
        print("chatd on port \(server.port); \(connected) members connected")

        // chatd: paced, then a burst.
        _ = try await pool.stats()
        _ = try await pool.call(0, ["cmd": "send", "rate": 1 / pace, "seconds": Double(paced) * pace, "senders": 1])
        let pacedStats = try await collect(pool, members: connected)
        let p99 = rounded(pacedStats.completionMillis.percentile(99))
        _ = try await pool.call(0, ["cmd": "send", "rate": Double(burst) / 0.05, "seconds": 0.05, "senders": 1])
        let burstStats = try await collect(pool, members: connected)
        let deliveries = Self.deliveriesPerSecond(burstStats)
        let lost = [pacedStats, burstStats].reduce(0) { $0 + max(0, $1.acked * connected - $1.received) + $1.gaps }
        let duplicated = pacedStats.duplicates + burstStats.duplicates
        print(
            "chatd: \(pacedStats.acked) paced broadcasts, last member p50 \(rounded(pacedStats.completionMillis.percentile(50))) ms, p99 \(p99) ms; burst of \(burstStats.acked): \(Int(deliveries)) deliveries/s; lost \(lost), duplicated \(duplicated)"
        )
        _ = try await pool.all(["cmd": "close"])

        // The raw ceiling, read by the same client code.
        let raw = try RawBroadcaster()
        defer { raw.close() }
        async let accepted: Void = raw.accept(count: connected)
        _ = try await pool.all(["cmd": "raw", "port": raw.port])
        await accepted
        _ = try await pool.stats()
        for number in 1...paced {
            _ = raw.broadcast(number)
            try await Task.sleep(for: .seconds(pace))
        }
        let rawPaced = try await collect(pool, members: connected, expected: paced)
        let rawP99 = rounded(rawPaced.completionMillis.percentile(99))
        for number in 1...burst { _ = raw.broadcast(paced + number) }
        let rawBurst = try await collect(pool, members: connected, expected: burst)
        let rawDeliveries = Self.deliveriesPerSecond(rawBurst)
        print(
            "raw ceiling: paced p99 \(rawP99) ms (\(connected) writes per broadcast); burst \(Int(rawDeliveries)) deliveries/s"
        )
        printResult([
            "scenario": "group", "group_size": connected, "deliveries_per_s": Int(deliveries), "p99_ms": p99,
            "raw_deliveries_per_s": Int(rawDeliveries), "raw_p99_ms": rawP99,
            "ratio": rounded(deliveries / max(rawDeliveries, 1)), "p99_to_raw": rounded(p99 / max(rawP99, 0.001), 2),
            "lost": lost, "duplicated": duplicated,
        ])
    }

    /// Waits until every member has every acknowledged broadcast (or 10 s pass) and returns the counters.
    func collect(_ pool: WorkerPool, members: Int, expected: Int? = nil) async throws -> LoadStats {
        var stats = try await pool.stats()
        let deadline = monotonicNow() + 10_000_000_000
        while stats.received < (expected ?? stats.acked) * members, monotonicNow() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            stats.add(try await pool.stats())
        }
        if let expected { stats.acked = expected }
        return stats
    }

    /// Deliveries divided by the time from the first send to the last delivery.
    static func deliveriesPerSecond(_ stats: LoadStats) -> Double {
        guard let first = stats.lastDelivery.keys.min(), let last = stats.lastDelivery.values.max(), last > first else {
            return 0
        }
        return Double(stats.received) / (Double(last - first) / 1e9)
    }
}
