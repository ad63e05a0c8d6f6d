import ChatCore
import ChatStore
import Foundation
import Logging
import Synchronization
import Testing

@testable import ChatJobs

/// The runner on a real SQLite store: attempts, retries with backoff, dead letters, keys, leases of dead processes,
/// pause, and the administration calls `chatctl` makes.
@Suite struct JobRunnerTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chatd-jobs-\(UUID().uuidString)")

    /// A handler that records every attempt and fails while `failing` says so.
    final class Recorder: JobHandler {
        struct Attempt: Equatable {
            var payload: String
            var attempt: Int
        }
        let attempts = Mutex<[Attempt]>([])
        let buriedJobs = Mutex<[(Int64, String)]>([])
        let failing: Mutex<Bool>
        /// Per key: attempts running now, and the most ever at once.
        let running = Mutex<[String: (now: Int, most: Int)]>([:])

        init(failing: Bool = false) { self.failing = Mutex(failing) }

        func run(_ job: LeasedJob) async throws {
            let key = job.key ?? ""
            running.withLock { $0[key, default: (0, 0)].now += 1; $0[key]!.most = max($0[key]!.most, $0[key]!.now) }
            defer { running.withLock { $0[key]!.now -= 1 } }
            attempts.withLock { $0.append(Attempt(payload: job.payload, attempt: job.attempt)) }
            await Task.yield()
            if failing.withLock({ $0 }) { throw JobFailure("the image is corrupt") }
        }

        func buried(_ job: LeasedJob, error: String) async {
            buriedJobs.withLock { $0.append((job.id, error)) }
        }

        var payloads: [String] { attempts.withLock { $0.map(\.payload) } }
    }

    /// A batch handler: records each call's payloads, completes the jobs it was given in one write, and fails those
    /// whose payload says so.
    final class BatchRecorder: BatchJobHandler {
        let store: Store
        let calls = Mutex<[[String]]>([])
        init(store: Store) { self.store = store }

        func run(batch jobs: [LeasedJob]) async -> [Int64: any Error] {
            calls.withLock { $0.append(jobs.map(\.payload)) }
            let failing = jobs.filter { $0.payload.contains("fail") }
            let done = jobs.filter { !$0.payload.contains("fail") }
            do {
                for job in done { _ = try await store.jobs.complete(job.lease) }
            } catch {
                return Dictionary(uniqueKeysWithValues: jobs.map { ($0.lease.jobId, error as any Error) })
            }
            return Dictionary(uniqueKeysWithValues: failing.map { ($0.lease.jobId, JobFailure("bad payload") as any Error) })
        }
    }

    func open() throws -> Store { try Store(directory: directory) }

    func runner(
        _ store: Store, _ handler: Recorder, concurrency: Int = 2, attempts: Int = 3, clock: @escaping @Sendable () -> Millis = Clock.nowMillis
    ) -> JobRunner {
        let policy = QueuePolicy(concurrency: concurrency, maxAttempts: attempts, backoffSeconds: 1, leaseSeconds: 60)
        let runner = JobRunner(
            repository: store.jobs, policies: ["media": policy, "notify": policy], handlers: ["test": handler],
            pollInterval: .milliseconds(50), clock: clock, random: { 0 }, logger: Logger(label: "test"))
        store.setJobPublisher(runner)
        return runner
    }

    func job(_ payload: String, queue: String = "media", key: String? = nil) -> Job {
        Job(kind: "test", queue: queue, key: key, payload: payload)
    }

    /// Runs `body` while the runner runs.
    func running<T>(_ runner: JobRunner, _ body: () async throws -> T) async throws -> T {
        let task = Task { try await runner.run() }
        defer { task.cancel() }
        return try await body()
    }

    @Test func aJobRunsOnceAndIsGone() async throws {
        let store = try open()
        defer { try? store.close() }
        let handler = Recorder()
        let runner = runner(store, handler)
        try await running(runner) {
            try await store.jobs.enqueue([job("{\"n\":1}")])
            try await eventually { try await store.jobs.jobs(queue: nil, state: nil, limit: 10).isEmpty }
        }
        #expect(handler.attempts.withLock { $0 } == [.init(payload: "{\"n\":1}", attempt: 1)])
        let figures = try await runner.figures().first { $0.queue == "media" }
        #expect(figures?.counters.completed == 1)
    }

    @Test func aGatheringQueueHandsTheJobsOfOneMomentToABatchHandlerTogether() async throws {
        let store = try open()
        defer { try? store.close() }
        let handler = BatchRecorder(store: store)
        let policy = QueuePolicy(
            concurrency: 8, maxAttempts: 1, backoffSeconds: 1, leaseSeconds: 60, gatherMillis: 200)
        let runner = JobRunner(
            repository: store.jobs, policies: ["notify": policy], handlers: ["batch": handler],
            pollInterval: .seconds(60), random: { 0 }, logger: Logger(label: "test"))
        store.setJobPublisher(runner)
        // Three jobs waiting (the queue paused): one lease takes them, and the handler gets them in one call.
        try await runner.pause("notify")
        for payload in ["a", "fail", "b"] {
            try await store.jobs.enqueue([Job(kind: "batch", queue: "notify", payload: payload)])
        }
        try await running(runner) {
            try await runner.resume("notify")
            try await eventually {
                try await store.jobs.jobs(queue: "notify", state: nil, limit: 10).allSatisfy { $0.state == .dead }
            }
            // A job enqueued later is leased once the gathering time is over.
            try await store.jobs.enqueue([Job(kind: "batch", queue: "notify", payload: "c")])
            try await eventually { handler.calls.withLock { $0.count } == 2 }
        }
        #expect(handler.calls.withLock { $0 } == [["a", "fail", "b"], ["c"]])
        let left = try await store.jobs.jobs(queue: "notify", state: nil, limit: 10)
        #expect(left.map(\.payload) == ["fail"] && left.first?.lastError == "bad payload")
        let figures = try await runner.figures().first { $0.queue == "notify" }
        #expect(figures?.counters.completed == 3 && figures?.counters.buried == 1)
    }

    @Test func failedAttemptsAreRetriedWithBackoffThenDeadUntilRetried() async throws {
        let store = try open()
        defer { try? store.close() }
        let handler = Recorder(failing: true)
        let runner = runner(store, handler, attempts: 3)
        try await running(runner) {
            try await store.jobs.enqueue([job("{\"n\":2}")])
            try await eventually { try await store.jobs.jobs(queue: "media", state: .dead, limit: 10).count == 1 }
            let dead = try #require(try await store.jobs.jobs(queue: "media", state: .dead, limit: 10).first)
            #expect(dead.attempts == 3)
            #expect(dead.lastError == "the image is corrupt")
            #expect(handler.attempts.withLock { $0.map(\.attempt) } == [1, 2, 3])
            #expect(handler.buriedJobs.withLock { $0.map(\.0) } == [dead.id], "told once, when it died")
            let figures = try #require(try await runner.figures().first { $0.queue == "media" })
            #expect(figures.depth.dead == 1)
            #expect(figures.counters.failedAttempts == 3)
            #expect(figures.counters.buried == 1)

            // The dead-letter queue: an operator retries it once the cause is fixed.
            handler.failing.withLock { $0 = false }
            #expect(try await runner.retry(dead.id))
            #expect(try await runner.retry(dead.id) == false, "no longer dead")
            try await eventually { try await store.jobs.jobs(queue: nil, state: nil, limit: 10).isEmpty }
            #expect(handler.attempts.withLock { $0.last } == .init(payload: "{\"n\":2}", attempt: 1))
        }
    }

    @Test func jobsWithOneKeyRunOneAtATimeInOrder() async throws {
        let store = try open()
        defer { try? store.close() }
        let handler = Recorder()
        let runner = runner(store, handler, concurrency: 4)
        let jobs = (0..<8).map { job("\($0)", key: $0 % 2 == 0 ? "even" : "odd") }
        try await running(runner) {
            try await store.jobs.enqueue(jobs)
            try await eventually { handler.payloads.count == 8 }
        }
        let payloads = handler.payloads.compactMap { Int($0) }
        #expect(payloads.filter { $0 % 2 == 0 } == [0, 2, 4, 6])
        #expect(payloads.filter { $0 % 2 == 1 } == [1, 3, 5, 7])
        #expect(handler.running.withLock { $0.values.map(\.most) } == [1, 1])
    }

    @Test func aLeaseOfAProcessThatDiedIsReleasedAtStart() async throws {
        let store = try open()
        defer { try? store.close() }
        try await store.jobs.enqueue([job("{\"n\":3}")])
        // Another process leased it for an hour and died.
        let now = Clock.nowMillis()
        let taken = try await store.jobs.lease(queue: "media", limit: 5, now: now, leaseUntil: now + 3_600_000, maxAttempts: 3)
        #expect(taken.jobs.count == 1)
        let handler = Recorder()
        try await running(runner(store, handler)) {
            try await eventually { handler.payloads.count == 1 }
        }
        #expect(handler.attempts.withLock { $0 } == [.init(payload: "{\"n\":3}", attempt: 2)])
    }

    @Test func aLeaseThatRunsOutAfterTheLastAttemptBuriesTheJob() async throws {
        let store = try open()
        defer { try? store.close() }
        try await store.jobs.enqueue([job("{\"n\":4}")])
        let start = Clock.nowMillis()
        // Three workers in a row die holding it (an image that crashes the process, say).
        for attempt in 1...3 {
            let at = start + Millis(attempt) * 100
            let batch = try await store.jobs.lease(queue: "media", limit: 5, now: at, leaseUntil: at + 50, maxAttempts: 3)
            #expect(batch.jobs.map(\.attempt) == [attempt])
            #expect(batch.nextDueAt == at + 50, "due again when the lease runs out")
        }
        let after = try await store.jobs.lease(queue: "media", limit: 5, now: start + 1000, leaseUntil: start + 2000, maxAttempts: 3)
        #expect(after.jobs.isEmpty, "not run a fourth time")
        #expect(after.exhausted.map(\.payload) == ["{\"n\":4}"])
        // The runner tells the handler, then buries it; until then it is handed back again.
        let again = try await store.jobs.lease(queue: "media", limit: 5, now: start + 1001, leaseUntil: start + 2000, maxAttempts: 3)
        #expect(again.exhausted.map(\.payload) == ["{\"n\":4}"])
        #expect(try await store.jobs.fail(after.exhausted[0].lease, error: "the worker stopped during it", retryAt: nil))
        let later = try await store.jobs.lease(queue: "media", limit: 5, now: start + 1002, leaseUntil: start + 2000, maxAttempts: 3)
        #expect(later.exhausted.isEmpty && later.jobs.isEmpty && later.nextDueAt == nil)
        let dead = try #require(try await store.jobs.jobs(queue: nil, state: .dead, limit: 5).first)
        #expect(dead.lastError?.contains("the worker stopped") == true)
        // A worker that comes back after its lease was taken changes nothing.
        #expect(try await store.jobs.complete(JobLease(jobId: dead.id, attempt: 3)) == false)
        #expect(try await store.jobs.fail(JobLease(jobId: dead.id, attempt: 2), error: "late", retryAt: 0) == false)
    }

    @Test func aPausedQueueStaysPausedAcrossRestartsUntilResumed() async throws {
        let store = try open()
        defer { try? store.close() }
        let handler = Recorder()
        let first = runner(store, handler)
        try await first.pause("notify")
        await #expect(throws: ChatError.self) { try await first.pause("nonesuch") }
        let second = runner(store, handler)
        try await running(second) {
            try await store.jobs.enqueue([job("held", queue: "notify"), job("free", queue: "media")])
            try await eventually { handler.payloads == ["free"] }
            let notify = try #require(try await second.figures().first { $0.queue == "notify" })
            #expect(notify.depth.paused)
            #expect(notify.depth.ready == 1)
            try await second.resume("notify")
            try await eventually { handler.payloads == ["free", "held"] }
        }
    }

    @Test func figuresAndTheDeadLetterQueue() async throws {
        let store = try open()
        defer { try? store.close() }
        let now = Clock.nowMillis()
        try await store.jobs.enqueue([
            job("a"), job("b"), Job(kind: "test", queue: "media", payload: "later", runAt: now + 60_000),
            job("c", queue: "notify"),
        ])
        let leased = try await store.jobs.lease(queue: "notify", limit: 1, now: now + 5_000, leaseUntil: now + 9_000, maxAttempts: 1)
        #expect(try await store.jobs.fail(leased.jobs[0].lease, error: "gateway down", retryAt: nil))
        let depths = try await store.jobs.depths(now: now + 5_000)
        let media = try #require(depths.first { $0.queue == "media" })
        #expect((media.ready, media.delayed, media.running, media.dead) == (2, 1, 0, 0))
        let oldest = try await store.jobs.jobs(queue: "media", state: .ready, limit: 10).map(\.availableAt).min()
        #expect(media.oldestReadyAgeMillis == now + 5_000 - (oldest ?? 0))
        let notify = try #require(depths.first { $0.queue == "notify" })
        #expect((notify.ready, notify.dead) == (0, 1))
        #expect(try await store.jobs.jobs(queue: "notify", state: .dead, limit: 10).map(\.lastError) == ["gateway down"])
        #expect(try await store.jobs.purgeDead(queue: "media") == 0)
        #expect(try await store.jobs.purgeDead(queue: nil) == 1)
        #expect(try await store.jobs.jobs(queue: nil, state: nil, limit: 10).map(\.payload) == ["a", "b", "later"])
    }

    @Test func aMissedScheduleRunsOnceWhenTheDaemonIsBack() async throws {
        let store = try open()
        defer { try? store.close() }
        let daily: @Sendable (Millis) -> Millis = { ($0 / 86_400_000 + 1) * 86_400_000 }
        let day: Millis = 86_400_000
        let fire = { (now: Millis, spec: String) in
            try await store.jobs.fireSchedule(name: "cleanup", spec: spec, job: .dailyCleanup, now: now, nextAt: daily)
        }
        #expect(try await fire(10 * day + 5, "daily 00:00 UTC") == false, "first sight: only the next time")
        #expect(try await fire(10 * day + 6, "daily 00:00 UTC") == false)
        // Down for five days: one run, not five.
        #expect(try await fire(16 * day + 7, "daily 00:00 UTC") == true)
        #expect(try await fire(16 * day + 8, "daily 00:00 UTC") == false)
        #expect(try await fire(17 * day, "daily 00:00 UTC") == true)
        // Another time in the config: a new next time, no run.
        #expect(try await fire(19 * day, "daily 04:00 UTC") == false)
        let jobs = try await store.jobs.jobs(queue: "cleanup", state: nil, limit: 10)
        #expect(jobs.count == 2)
        #expect(jobs.allSatisfy { $0.kind == Job.Kind.cleanupDaily })
    }
}

/// Waits (up to 10 s) until `condition` holds: for things that must happen, never for things that must not.
func eventually(
    _ condition: () async throws -> Bool, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("the condition did not hold within 10 s", sourceLocation: sourceLocation)
}
