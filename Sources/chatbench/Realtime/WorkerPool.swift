import Foundation

/// The load workers of a scenario: child processes of this `chatbench` (`chatbench worker`), each holding a share
/// of the clients, driven with one JSON command per line.
final class WorkerPool: @unchecked Sendable {
    // @unchecked: used from the scenario's one task; each worker's reader thread only feeds its own stream.
    private let workers: [WorkerProcess]

    /// One worker per plan; a plan is the worker's connections: a token and the conversations it sends to.
    init(port: Int, plans: [[(token: String, conversations: [Int64])]], directory: URL) throws {
        workers = try plans.enumerated().map { index, plan in
            let file = directory.appendingPathComponent("worker-\(index).json")
            let connections = plan.map { ["token": $0.token, "conversations": $0.conversations] as [String: Any] }
            try JSONSerialization.data(withJSONObject: ["port": port, "connections": connections]).write(to: file)
            return try WorkerProcess(plan: file)
        }
    }

    var count: Int { workers.count }

    /// CPU time the workers used, in microseconds.
    var cpuMicroseconds: Int { workers.reduce(0) { $0 + processCPUMicroseconds($1.pid) } }

    /// Sends `command` to every worker at once and returns their answers in worker order.
    func all(_ command: [String: Any]) async throws -> [[String: Any]] {
        let line = String(decoding: try JSONSerialization.data(withJSONObject: command), as: UTF8.self)
        let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (index, worker) in workers.enumerated() {
                group.addTask { (index, try await worker.call(line)) }
            }
            var answers = [String](repeating: "{}", count: workers.count)
            for try await (index, answer) in group { answers[index] = answer }
            return answers
        }
        return answers.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) ?? [:] }
    }

    func call(_ index: Int, _ command: [String: Any]) async throws -> [String: Any] {
        let line = String(decoding: try JSONSerialization.data(withJSONObject: command), as: UTF8.self)
        let answer = try await workers[index].call(line)
        return (try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any]) ?? [:]
    }

    /// Every worker's counters since the last call, added up.
    func stats() async throws -> LoadStats {
        LoadStats(try await all(["cmd": "stats"]))
    }

    func quit() async {
        _ = try? await all(["cmd": "quit"])
        for worker in workers { worker.wait() }
    }
}

/// What the workers counted, merged.
struct LoadStats {
    var received = 0
    var duplicates = 0
    var gaps = 0
    var acked = 0
    var failedSends = 0
    var open = 0
    var latencies = Latencies()
    var ackLatencies = Latencies()
    /// Per message (keyed by its send time): when the last client received it.
    var lastDelivery: [UInt64: UInt64] = [:]

    init(_ answers: [[String: Any]]) {
        for answer in answers {
            let int = { (key: String) in (answer[key] as? NSNumber)?.intValue ?? 0 }
            received += int("received")
            duplicates += int("duplicates")
            gaps += int("gaps")
            acked += int("acked")
            failedSends += int("failed_sends")
            open += int("open")
            for sample in answer["latencies"] as? [NSNumber] ?? [] { latencies.add(sample.uint64Value) }
            for sample in answer["ack_latencies"] as? [NSNumber] ?? [] { ackLatencies.add(sample.uint64Value) }
            for (key, value) in answer["per_message"] as? [String: NSNumber] ?? [:] {
                guard let sentAt = UInt64(key) else { continue }
                lastDelivery[sentAt] = max(lastDelivery[sentAt] ?? 0, value.uint64Value)
            }
        }
    }

    /// Adds the counters of a later `stats` call (deliveries that were still in flight).
    mutating func add(_ other: LoadStats) {
        received += other.received
        duplicates += other.duplicates
        gaps += other.gaps
        acked += other.acked
        failedSends += other.failedSends
        latencies.add(contentsOf: other.latencies)
        ackLatencies.add(contentsOf: other.ackLatencies)
        for (sentAt, last) in other.lastDelivery { lastDelivery[sentAt] = max(lastDelivery[sentAt] ?? 0, last) }
    }

    /// Per message, milliseconds from its send until its last recipient had it.
    var completionMillis: Latencies {
        var out = Latencies()
        for (sentAt, last) in lastDelivery { out.add(last &- sentAt) }
        return out
    }
}

/// One `chatbench worker` child process.
final class WorkerProcess: @unchecked Sendable {
    // @unchecked: `call` is used by one task at a time per worker; the reader thread only yields lines.
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let lines: AsyncStream<String>
    private var iterator: AsyncStream<String>.Iterator

    init(plan: URL) throws {
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        process.arguments = ["worker", "--plan", plan.path]
        process.standardInput = input
        process.standardOutput = output
        let (stream, continuation) = AsyncStream<String>.makeStream()
        lines = stream
        iterator = stream.makeAsyncIterator()
        let handle = output.fileHandleForReading
        Thread.detachNewThread {
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending += chunk
                while let newline = pending.firstIndex(of: 10) {
                    continuation.yield(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            continuation.finish()
        }
        try process.run()
    }

    /// Sends one command line and returns the answer line.
    func call(_ line: String) async throws -> String {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
        guard let answer = await iterator.next() else { throw BenchError("a worker ended unexpectedly") }
        return answer
    }

    var pid: Int32 { process.processIdentifier }

    func wait() {
        process.waitUntilExit()
    }
}
