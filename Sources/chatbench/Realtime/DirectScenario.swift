import ArgumentParser
import Foundation

/// `chatbench direct`: clients in one-to-one conversations send to each other over WebSockets. End-to-end latency
/// (send → the recipient has it, every message durable before anyone sees it) at a steady rate, then rising rates
/// until p99 passes 100 ms, something is lost, or the rate is not reached: the highest rate that held is the
/// sustained maximum.
struct DirectScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "direct", abstract: "One-to-one messaging over WebSockets: latency and the sustained maximum.")

    @Option(help: "Connections (users, in pairs).") var connections = 3_000
    @Option(help: "Messages per second of the latency measurement.") var rate = 500.0
    @Option(help: "Seconds of the latency measurement.") var seconds = 10.0
    @Option(help: "Rates tried for the sustained maximum, in order.") var steps = "1000,2000,4000,6000,8000,10000,12000,14000,16000,20000"
    @Option(help: "Seconds per step.") var stepSeconds = 5.0
    @Option(help: "Load worker processes.") var workers = 2

    func run() async throws {
        let server = try ChatdProcess()
        defer { server.stop() }
        let (pool, _, conversations, connected) = try await startPairs(server, connections: connections, workers: workers)
        defer { Task { await pool.quit() } }
        print("chatd on port \(server.port); \(connected) clients connected in \(conversations.count) conversations")

        let steady = try await phase(pool, server, rate: rate, seconds: seconds)
        print(
            "\(Int(rate))/s for \(Int(seconds)) s: \(steady.stats.acked) sent, e2e p50 \(steady.p50) ms, p99 \(steady.p99) ms, p99.9 \(steady.p999) ms; ack p99 \(steady.ackP99) ms; \(steady.cpuPerMessage) µs of server CPU per message; lost \(steady.lost), duplicated \(steady.stats.duplicates)"
        )
        var lost = steady.lost
        var duplicated = steady.stats.duplicates
        var sustained = 0.0
        for target in steps.split(separator: ",").compactMap({ Double($0) }) {
            let step = try await phase(pool, server, rate: target, seconds: stepSeconds)
            lost += step.lost
            duplicated += step.stats.duplicates
            let achieved = Double(step.stats.acked) / stepSeconds
            let held = step.p99 < 100 && step.lost == 0 && achieved >= 0.95 * target
            print(
                "step \(Int(target))/s: achieved \(Int(achieved))/s, e2e p99 \(step.p99) ms, ack p99 \(step.ackP99) ms, lost \(step.lost); CPU per message: chatd \(step.cpuPerMessage) µs, load workers \(step.workerCPUPerMessage) µs — \(held ? "held" : "not held")"
            )
            guard held else { break }
            sustained = achieved
        }
        printResult([
            "scenario": "direct", "connections": connected, "msgs_per_s": rate, "p50_ms": steady.p50, "p99_ms": steady.p99,
            "p999_ms": steady.p999, "ack_p99_ms": steady.ackP99, "max_sustained_msgs_per_s": Int(sustained),
            "server_cpu_us_per_msg": steady.cpuPerMessage, "lost": lost, "duplicated": duplicated,
        ])
    }

    struct Phase {
        var stats: LoadStats
        var lost: Int
        var p50: Double
        var p99: Double
        var p999: Double
        var ackP99: Double
        var cpuPerMessage: Double
        var workerCPUPerMessage: Double
    }

    /// Sends at `rate` for `seconds` from every client, waits for the acks and the last deliveries, and measures.
    /// Each message reaches two sockets: the recipient's and the sender's own (every device of every member).
    func phase(_ pool: WorkerPool, _ server: ChatdProcess, rate: Double, seconds: Double) async throws -> Phase {
        _ = try await pool.stats()
        let cpuBefore = server.cpuMicroseconds
        let workersBefore = pool.cpuMicroseconds
        _ = try await pool.all(["cmd": "send", "rate": rate / Double(pool.count), "seconds": seconds, "senders": 0])
        var stats = try await pool.stats()
        // Deliveries still in flight after the last ack.
        for _ in 0..<20 where stats.received < stats.acked * 2 {
            try await Task.sleep(for: .milliseconds(250))
            stats.add(try await pool.stats())
        }
        let cpu = server.cpuMicroseconds - cpuBefore
        let workerCPU = pool.cpuMicroseconds - workersBefore
        return Phase(
            stats: stats, lost: max(0, stats.acked * 2 - stats.received) + stats.gaps,
            p50: rounded(stats.latencies.percentile(50)), p99: rounded(stats.latencies.percentile(99)),
            p999: rounded(stats.latencies.percentile(99.9)), ackP99: rounded(stats.ackLatencies.percentile(99)),
            cpuPerMessage: rounded(Double(cpu) / Double(max(stats.acked, 1)), 1),
            workerCPUPerMessage: rounded(Double(workerCPU) / Double(max(stats.acked, 1)), 1))
    }
}
