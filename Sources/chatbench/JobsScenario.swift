import ArgumentParser
import ChatCore
import ChatJobs
import ChatStore
import Foundation
import Logging
import Synchronization

/// `chatbench jobs`: the durable queue's own cost. `--producers` tasks enqueue no-op jobs one per transaction, as
/// changes do, while the runner leases them (up to `--concurrency` at a time), runs a handler that does nothing and
/// completes them — every step a write of the group-committing writer on a real SQLite file with
/// `synchronous=FULL`. Throughput is jobs enqueued, leased and completed per second, end to end.
struct JobsScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "Enqueue, lease and complete no-op jobs through the SQLite queue.")

    @Option(help: "Jobs to run.") var jobs = 50_000
    @Option(help: "Tasks enqueueing jobs, one job per transaction each.") var producers = 64
    @Option(help: "Jobs the queue runs at once.") var concurrency = 64
    @Option(help: "Folder for the database (a temporary folder by default; removed afterwards).") var directory: String?

    func run() async throws {
        let root = URL(fileURLWithPath: directory ?? NSTemporaryDirectory())
            .appendingPathComponent("chatbench-jobs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = try Store(directory: root, durability: .full)
        defer { try? store.close() }
        let counter = JobCounter()
        var logger = Logger(label: "chatbench")
        logger.logLevel = .warning
        let policy = QueuePolicy(concurrency: concurrency, maxAttempts: 3, backoffSeconds: 1, leaseSeconds: 60)
        let runner = JobRunner(
            repository: store.jobs, policies: ["bench": policy], handlers: ["bench.noop": counter.handler],
            logger: logger)
        store.setJobPublisher(runner)
        let running = Task { try await runner.run() }
        defer { running.cancel() }

        let before = store.writeStatistics
        let start = now()
        let total = jobs
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                group.addTask {
                    var index = producer
                    while index < total {
                        try await store.jobs.enqueue([
                            Job(kind: "bench.noop", queue: "bench", payload: "{\"n\":\(index)}")
                        ])
                        index += producers
                    }
                }
            }
            try await group.waitForAll()
        }
        let enqueued = now()
        // Done when every handler ran and every job row is gone (the last completions committed).
        while true {
            if counter.done.load(ordering: .relaxed) >= total,
                try await store.jobs.jobs(queue: "bench", state: nil, limit: 1).isEmpty
            {
                break
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        let finished = now()
        let remaining = try await store.jobs.jobs(queue: "bench", state: nil, limit: 1).count
        let after = store.writeStatistics
        let seconds = Double(finished - start) / 1e9
        let perSecond = Double(total) / seconds
        let writes = after.writes - before.writes
        let transactions = after.transactions - before.transactions
        print(
            "jobs: \(total) enqueued by \(producers) producers in \(rounded(Double(enqueued - start) / 1e9, 2)) s; all leased and completed after \(rounded(seconds, 2)) s"
        )
        print(
            "\(Int(perSecond)) jobs/s end to end (synchronous=FULL); \(writes) writes in \(transactions) commits (\(rounded(Double(writes) / Double(max(transactions, 1)), 1)) per commit); \(remaining) left in the table"
        )
        printResult(["scenario": "jobs", "jobs_per_s": Int(perSecond), "jobs": total, "writes_per_commit": rounded(Double(writes) / Double(max(transactions, 1)), 1)])
    }
}

/// A handler that does nothing but count, shared with the scenario that waits for the count.
final class JobCounter: Sendable {
    let done = Atomic<Int>(0)

    var handler: any JobHandler { Handler(counter: self) }

    private struct Handler: JobHandler {
        let counter: JobCounter
        func run(_ job: LeasedJob) async throws { counter.done.add(1, ordering: .relaxed) }
    }
}
