import ArgumentParser
import Foundation

/// `chatbench direct`: clients in one-to-one conversations send to each other over WebSockets, open-loop, from load
/// worker processes. Each phase runs long enough (minutes by default) that checkpoints and the WAL's growth happen
/// inside it, and reports what a user lives through: the ack's and the delivery's p99, p99.9 and max, beside the
/// checkpoints and slow commits of the same window. A first phase at `--rate`, then rising `--steps` until p99 passes
/// 100 ms, something is lost, or the rate is not reached: the highest rate that held is the sustained maximum.
/// `--cpu-hog N` keeps N cores busy in other processes throughout, as a busy neighbour on a small VM would.
struct DirectScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "direct", abstract: "One-to-one messaging over WebSockets: the latency tail and the sustained maximum.")

    @Option(help: "Connections (users, in pairs).") var connections = 3_000
    @Option(help: "Messages per second of the first phase.") var rate = 500.0
    @Option(help: "Seconds of the first phase.") var seconds = 120.0
    @Option(help: "Rates tried after it, in order, until one does not hold.") var steps = "1000,2000,5000,10000,12000,14000,16000"
    @Option(help: "Seconds per step.") var stepSeconds = 120.0
    @Option(help: "Load worker processes.") var workers = 2
    @Option(help: "Cores kept busy by other processes throughout.") var cpuHog = 0

    func run() async throws {
        let server = try ChatdProcess()
        defer { server.stop() }
        let (pool, _, conversations, connected) = try await startPairs(server, connections: connections, workers: workers)
        defer { Task { await pool.quit() } }
        let hog = try CPUHog(cores: cpuHog)
        defer { hog.stop() }
        say("chatd on port \(server.port); \(connected) clients connected in \(conversations.count) conversations; \(cpuHog) cores kept busy beside it")

        let first = try await phase(pool, server, hog, rate: rate, seconds: seconds)
        say(first.line)
        var lost = first.lost
        var duplicated = first.stats.duplicates
        var sustained = first.held ? first.achieved : 0
        var measured: [Phase] = []
        for target in steps.split(separator: ",").compactMap({ Double($0) }) {
            let step = try await phase(pool, server, hog, rate: target, seconds: stepSeconds)
            say(step.line)
            measured.append(step)
            lost += step.lost
            duplicated += step.stats.duplicates
            guard step.held else { break }
            sustained = max(sustained, step.achieved)
        }
        printResult([
            ("scenario", "direct"), ("connections", connected), ("hog_cores", cpuHog), ("msgs_per_s", rate),
            ("seconds", seconds), ("p50_ms", first.delivery.p50), ("p99_ms", first.delivery.p99),
            ("p999_ms", first.delivery.p999), ("max_ms", first.delivery.max), ("ack_p99_ms", first.ack.p99),
            ("ack_p999_ms", first.ack.p999), ("ack_max_ms", first.ack.max), ("checkpoints", first.checkpoints.count),
            ("checkpoint_ms", first.checkpoints.milliseconds), ("commits_over_10ms", first.slowCommits),
            ("max_sustained_msgs_per_s", Int(sustained)), ("server_cpu_us_per_msg", first.cpuPerMessage),
            ("lost", lost), ("duplicated", duplicated), ("steps", RawJSON(measured.map(\.json))),
        ])
    }

    /// Percentiles of one kind of latency in a phase, in milliseconds.
    struct Tail {
        var p50: Double
        var p99: Double
        var p999: Double
        var max: Double

        init(_ latencies: Latencies) {
            p50 = rounded(latencies.percentile(50))
            p99 = rounded(latencies.percentile(99))
            p999 = rounded(latencies.percentile(99.9))
            max = rounded(latencies.percentile(100))
        }

        var text: String { "p50 \(p50), p99 \(p99), p99.9 \(p999), max \(max) ms" }
    }

    /// Checkpoints that copied pages in a phase (from chatd's metrics).
    struct Checkpoints {
        var count: Int
        var milliseconds: Double
        var longestAtMost: Double
        var pages: Int
    }

    struct Phase {
        var rate: Double
        var seconds: Double
        var stats: LoadStats
        var lost: Int
        var delivery: Tail
        var ack: Tail
        var checkpoints: Checkpoints
        var commits: Int
        /// Commits that took more than 10 ms (BEGIN to COMMIT's return).
        var slowCommits: Int
        var walMegabytes: Double
        var cpuPerMessage: Double
        var chatdCores: Double
        var workerCPUPerMessage: Double
        var hogCores: Double

        var achieved: Double { Double(stats.acked) / seconds }
        var held: Bool { delivery.p99 < 100 && lost == 0 && achieved >= 0.95 * rate }

        var line: String {
            """
            \(Int(rate))/s for \(Int(seconds)) s: achieved \(Int(achieved))/s; delivery \(delivery.text); ack \(ack.text); \
            \(checkpoints.count) checkpoints, \(checkpoints.milliseconds) ms in all, the longest ≤ \(checkpoints.longestAtMost) ms, \
            \(checkpoints.pages) WAL frames copied; \(commits) commits, \(slowCommits) over 10 ms; WAL \(walMegabytes) MB at the end; \
            chatd \(cpuPerMessage) µs of CPU per message (\(chatdCores) cores), load workers \(workerCPUPerMessage) µs, \
            hog \(hogCores) cores; lost \(lost), duplicated \(stats.duplicates) — \(held ? "held" : "not held")
            """
        }

        var json: [String: Any] {
            [
                "msgs_per_s": rate, "achieved": Int(achieved), "p99_ms": delivery.p99, "p999_ms": delivery.p999,
                "max_ms": delivery.max, "ack_p99_ms": ack.p99, "ack_p999_ms": ack.p999, "ack_max_ms": ack.max,
                "checkpoints": checkpoints.count, "checkpoint_ms": checkpoints.milliseconds,
                "commits_over_10ms": slowCommits, "server_cpu_us_per_msg": cpuPerMessage, "hog_cores": hogCores,
                "lost": lost, "held": held,
            ]
        }
    }

    /// Sends at `rate` for `seconds` from every client, waits for the acks and the last deliveries, and measures.
    /// Each message reaches two sockets: the recipient's and the sender's own (every device of every member).
    func phase(_ pool: WorkerPool, _ server: ChatdProcess, _ hog: CPUHog, rate: Double, seconds: Double) async throws
        -> Phase
    {
        _ = try await pool.stats()
        let before = try server.metrics()
        let cpuBefore = server.cpuMicroseconds
        let workersBefore = pool.cpuMicroseconds
        let hogBefore = hog.cpuMicroseconds
        let started = ContinuousClock.now
        _ = try await pool.all([
            "cmd": "send", "rate": rate / Double(pool.count), "seconds": seconds, "senders": 0, "completion": false,
        ])
        var stats = try await pool.stats()
        // Deliveries still in flight after the last ack.
        for _ in 0..<20 where stats.received < stats.acked * 2 {
            try await Task.sleep(for: .milliseconds(250))
            stats.add(try await pool.stats())
        }
        let elapsed = started.duration(to: .now)
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let cpu = server.cpuMicroseconds - cpuBefore
        let workerCPU = pool.cpuMicroseconds - workersBefore
        let hogCPU = hog.cpuMicroseconds - hogBefore
        let after = try server.metrics()
        let checkpoints = after.histogram("chatd_store_checkpoint_duration_seconds", since: before)
        let commits = after.histogram("chatd_store_commit_duration_seconds", since: before)
        let messages = Double(max(stats.acked, 1))
        return Phase(
            rate: rate, seconds: seconds, stats: stats, lost: max(0, stats.acked * 2 - stats.received) + stats.gaps,
            delivery: Tail(stats.latencies), ack: Tail(stats.ackLatencies),
            checkpoints: Checkpoints(
                count: Int(checkpoints.count), milliseconds: rounded(checkpoints.sum * 1000, 1),
                longestAtMost: checkpoints.largestBound * 1000,
                pages: Int(after.value("chatd_store_checkpoint_frames_total") - before.value("chatd_store_checkpoint_frames_total"))),
            commits: Int(commits.count), slowCommits: Int(commits.count(above: 0.01)),
            walMegabytes: rounded(after.value("chatd_store_wal_bytes") / 1_048_576, 1),
            cpuPerMessage: rounded(Double(cpu) / messages, 1), chatdCores: rounded(Double(cpu) / 1e6 / wall, 2),
            workerCPUPerMessage: rounded(Double(workerCPU) / messages, 1), hogCores: rounded(Double(hogCPU) / 1e6 / wall, 2))
    }
}

/// A line written at once (not buffered until the end, as `print` to a file is): a run takes many minutes.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// A value `printResult` writes as JSON (an array or object made with JSONSerialization).
struct RawJSON: CustomStringConvertible {
    let object: Any
    init(_ object: Any) { self.object = object }
    var description: String {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}
