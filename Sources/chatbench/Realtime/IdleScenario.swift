import ArgumentParser
import ChatAdmin
import ChatStore
import Foundation

/// `chatbench idle`: many authenticated sockets held open. Server RSS per connection above the server's own
/// baseline (session, hub entry and empty outbound queue included), a message to every conversation while they are
/// all connected (each must arrive once at both members), and the RSS 60 s after every client left.
struct IdleScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle", abstract: "Authenticated idle WebSockets: memory per connection and after they leave.")

    @Option(help: "Connections (users, in pairs sharing a direct conversation).") var connections = 19_000
    @Option(help: "Load worker processes.") var workers = 3
    @Option(help: "Seconds to wait after every client left before reading the RSS again.") var settle = 60.0

    func run() async throws {
        let server = try ChatdProcess()
        defer { server.stop() }
        let pairs = connections / 2
        var conversations: [Int64] = []
        let users = try await server.seed(users: pairs * 2) { store, ids in
            conversations = try await openPairs(store, ids)
        }
        try await server.start()
        try await Task.sleep(for: .seconds(2))
        let baseline = server.rssKB
        let baselineParts = (anon: server.memoryKB("RssAnon"), file: server.memoryKB("RssFile"))
        print("chatd started on port \(server.port); baseline RSS \(baseline / 1024) MB")

        let pool = try WorkerPool(
            port: server.port,
            plans: split(users.indices.map { (users[$0].token, [conversations[$0 / 2]]) }, into: workers),
            directory: server.root)
        defer { Task { await pool.quit() } }
        let started = monotonicNow()
        let connected = try await pool.all(["cmd": "connect", "window": 500]).reduce(0) { $0 + int($1, "connected") }
        print("connected \(connected) of \(users.count) in \(seconds(since: started)) s")
        try await Task.sleep(for: .seconds(5))
        let loaded = server.rssKB
        let perConnection = Double(loaded - baseline) / Double(max(connected, 1))
        print("RSS with \(connected) connections: \(loaded / 1024) MB, \(rounded(perConnection, 2)) KB per connection")
        let anonGrowth = server.memoryKB("RssAnon") - baselineParts.anon
        let fileGrowth = server.memoryKB("RssFile") - baselineParts.file
        print("  of which heap and stacks \(anonGrowth / 1024) MB, code and libraries paged in \(fileGrowth / 1024) MB")

        // `chatctl status` with every connection open: the whole command (the process starting, the request over the
        // admin socket, the daemon gathering its figures), 20 times.
        // Beside it, its two parts alone: a process of the same binary that does nothing (`chatctl version`), and
        // the same request made from this process.
        let adminSocket = server.dataDirectory.appendingPathComponent("admin.sock").path
        let status = try Self.timeChatctl(["status", "--json", "--socket", adminSocket], times: 20)
        let start = try Self.timeChatctl(["version"], times: 20)
        let request = try Self.timeRequest(socket: adminSocket, times: 20)
        if let status, let start {
            print(
                "chatctl status with \(connected) connections: median \(rounded(status.percentile(50))) ms, max \(rounded(status.percentile(100))) ms (target 100 ms); chatctl version (the process alone) median \(rounded(start.percentile(50))) ms, max \(rounded(start.percentile(100))) ms; the request alone median \(rounded(request.percentile(50))) ms, max \(rounded(request.percentile(100))) ms"
            )
        }

        // Every client sends one message while everyone is connected (2,000/s in all): each reaches both members
        // of its conversation once.
        _ = try await pool.stats()
        _ = try await pool.all([
            "cmd": "send", "rate": 2_000.0 / Double(workers), "seconds": Double(connected) / 2_000, "senders": 0,
        ])
        try await Task.sleep(for: .seconds(1))
        let stats = try await pool.stats()
        let lost = max(0, stats.acked * 2 - stats.received)
        print("sent \(stats.acked) messages; \(stats.received) deliveries, \(stats.duplicates) duplicated, \(lost) lost")

        _ = try await pool.all(["cmd": "close"])
        print("every client left; waiting \(Int(settle)) s")
        try await Task.sleep(for: .seconds(settle))
        let after = server.rssKB
        print("RSS \(Int(settle)) s after: \(after / 1024) MB (baseline \(baseline / 1024) MB)")
        printResult([
            "scenario": "idle", "connections": connected, "rss_kb_per_conn": rounded(perConnection, 2),
            "baseline_mb": rounded(Double(baseline) / 1024, 1), "rss_loaded_mb": rounded(Double(loaded) / 1024, 1),
            "rss_after_mb": rounded(Double(after) / 1024, 1), "lost": lost, "duplicated": stats.duplicates,
            "status_ms_median": status.map { rounded($0.percentile(50)) } ?? -1,
            "status_ms_max": status.map { rounded($0.percentile(100)) } ?? -1,
            "chatctl_start_ms_median": start.map { rounded($0.percentile(50)) } ?? -1,
            "chatctl_start_ms_max": start.map { rounded($0.percentile(100)) } ?? -1,
            "status_request_ms_median": rounded(request.percentile(50)),
            "status_request_ms_max": rounded(request.percentile(100)),
        ])
    }

    /// Runs `chatctl` (the build beside this chatbench) with `arguments` `times` times; nil when there is no chatctl.
    static func timeChatctl(_ arguments: [String], times: Int) throws -> Latencies? {
        let chatctl = ChatdProcess.executable.deletingLastPathComponent().appendingPathComponent("chatctl")
        guard FileManager.default.isExecutableFile(atPath: chatctl.path) else { return nil }
        var latencies = Latencies()
        for _ in 0..<times {
            let process = Process()
            process.executableURL = chatctl
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            let start = now()
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw BenchError("chatctl \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
            }
            latencies.add(now() - start)
        }
        return latencies
    }

    /// `GET /v1/status` on the admin socket from this process, on a new connection each time, `times` times.
    static func timeRequest(socket: String, times: Int) throws -> Latencies {
        var latencies = Latencies()
        for _ in 0..<times {
            let start = now()
            let response = try UnixHTTP(socket: socket).exchange(
                method: "GET", path: AdminAPI.status, body: nil, contentType: nil)
            guard response.status == 200 else {
                throw BenchError("the admin socket answered \(response.status) to \(AdminAPI.status)")
            }
            latencies.add(now() - start)
        }
        return latencies
    }
}

/// Seeds `connections` users (an even number) in direct conversations of two, starts chatd on them, and connects
/// every user from `workers` load processes (each to its pair's conversation).
func startPairs(_ server: ChatdProcess, connections: Int, workers: Int) async throws
    -> (pool: WorkerPool, users: [SeededUser], conversations: [Int64], connected: Int)
{
    var conversations: [Int64] = []
    let users = try await server.seed(users: connections / 2 * 2) { store, ids in
        conversations = try await openPairs(store, ids)
    }
    try await server.start()
    let pool = try WorkerPool(
        port: server.port,
        plans: split(users.indices.map { (users[$0].token, [conversations[$0 / 2]]) }, into: workers),
        directory: server.root)
    let connected = try await pool.all(["cmd": "connect", "window": 500]).reduce(0) { $0 + int($1, "connected") }
    return (pool, users, conversations, connected)
}

/// Direct conversations between users 0–1, 2–3, …; returns conversation ids in pair order.
func openPairs(_ store: Store, _ ids: [Int64]) async throws -> [Int64] {
    try await openDirects(store, (0..<ids.count / 2).map { (ids[2 * $0], ids[2 * $0 + 1]) })
}

/// Opens the direct conversation of each pair through the store, 256 at a time; returns their ids in pair order.
func openDirects(_ store: Store, _ pairs: [(Int64, Int64)]) async throws -> [Int64] {
    var conversations = [Int64](repeating: 0, count: pairs.count)
    let chunk = 256
    for start in stride(from: 0, to: pairs.count, by: chunk) {
        try await withThrowingTaskGroup(of: (Int, Int64).self) { group in
            for index in start..<min(pairs.count, start + chunk) {
                let (user, peer) = pairs[index]
                group.addTask { (index, try await store.conversations.openDirect(user: user, peer: peer).0.id) }
            }
            for try await (index, id) in group { conversations[index] = id }
        }
    }
    return conversations
}

/// `items` dealt into `parts` contiguous plans.
func split<T>(_ items: [T], into parts: Int) -> [[T]] {
    let size = (items.count + parts - 1) / parts
    return stride(from: 0, to: items.count, by: max(size, 1)).map { Array(items[$0..<min(items.count, $0 + size)]) }
}

func int(_ answer: [String: Any], _ key: String) -> Int { (answer[key] as? NSNumber)?.intValue ?? 0 }

func seconds(since start: UInt64) -> Double { rounded(Double(monotonicNow() - start) / 1e9, 2) }
