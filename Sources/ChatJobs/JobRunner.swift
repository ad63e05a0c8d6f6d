import ChatCore
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the durable job queue: one worker per named queue, each leasing due jobs up to its concurrency and handing
/// them to the handler of their kind, and a scheduler that enqueues the daily jobs. It is the store's
/// `JobPublisher`: a committed write that enqueued jobs wakes their queue at once; jobs waiting for a retry or a
/// lost lease are picked up when they fall due.
///
/// At start it releases the leases of running jobs (they belong to a process that died: one daemon per data
/// directory), so an interrupted job runs again right away instead of after its visibility timeout.
public final class JobRunner: Service, JobPublisher, Sendable {
    let repository: any JobRepository
    let policies: [String: QueuePolicy]
    let handlers: [String: any JobHandler]
    let schedules: [DailySchedule]
    let pollInterval: Duration
    let clock: @Sendable () -> Millis
    let random: @Sendable () -> Double
    let logger: Logger
    private let signals: [String: (stream: AsyncStream<QueueDispatch.Event>, continuation: AsyncStream<QueueDispatch.Event>.Continuation)]
    private let counters = Mutex<[String: QueueCounters]>([:])

    public init(
        repository: any JobRepository, policies: [String: QueuePolicy], handlers: [String: any JobHandler],
        schedules: [DailySchedule] = [], pollInterval: Duration = .seconds(1),
        clock: @escaping @Sendable () -> Millis = Clock.nowMillis,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }, logger: Logger
    ) {
        self.repository = repository
        self.policies = policies
        self.handlers = handlers
        self.schedules = schedules
        self.pollInterval = pollInterval
        self.clock = clock
        self.random = random
        self.logger = logger
        signals = policies.mapValues { _ in AsyncStream.makeStream(of: QueueDispatch.Event.self) }
    }

    public func publish(_ jobs: [Job]) {
        var queues = Set<String>()
        for job in jobs where queues.insert(job.queue).inserted {
            signals[job.queue]?.continuation.yield(.enqueued)
        }
    }

    public func run() async throws {
        let released = try await repository.releaseLeases(now: clock())
        if released > 0 { logger.notice("jobs interrupted by the last stop run again", metadata: ["count": "\(released)"]) }
        let paused = try await repository.pausedQueues()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for (queue, policy) in policies {
                    group.addTask { await self.work(queue: queue, policy: policy, paused: paused.contains(queue)) }
                }
                if !schedules.isEmpty {
                    group.addTask { await self.keepSchedules() }
                }
            }
        } onGracefulShutdown: {
            for signal in self.signals.values { signal.continuation.yield(.stop) }
        }
        for signal in signals.values { signal.continuation.finish() }
    }

    // MARK: Workers

    private func work(queue: String, policy: QueuePolicy, paused: Bool) async {
        guard let signal = signals[queue] else { return }
        var dispatch = QueueDispatch(concurrency: policy.concurrency, gather: Millis(policy.gatherMillis), paused: paused)
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.pollInterval)
                    signal.continuation.yield(.tick)
                }
            }
            var action = dispatch.handle(.enqueued, now: clock())
            var events = signal.stream.makeAsyncIterator()
            while true {
                switch action {
                case .lease(let limit):
                    group.addTask {
                        await self.lease(queue: queue, policy: policy, limit: limit, signal: signal.continuation)
                    }
                case .wake(let at):
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(max(0, at - self.clock())))
                        signal.continuation.yield(.gathered)
                    }
                case .none:
                    break
                }
                if dispatch.isFinished { break }
                guard let event = await events.next() else { break }
                action = dispatch.handle(event, now: clock())
            }
            group.cancelAll()
        }
    }

    private func lease(
        queue: String, policy: QueuePolicy, limit: Int, signal: AsyncStream<QueueDispatch.Event>.Continuation
    ) async {
        let now = clock()
        let batch: LeaseBatch
        do {
            batch = try await repository.lease(
                queue: queue, limit: limit, now: now, leaseUntil: now + Millis(policy.leaseSeconds) * 1000,
                maxAttempts: policy.maxAttempts)
        } catch {
            logger.error("leasing jobs failed", metadata: ["queue": "\(queue)", "error": "\(error)"])
            signal.yield(.leaseFailed)
            return
        }
        for job in batch.exhausted {
            let error = "the worker stopped during the last attempt (the daemon was killed or crashed)"
            logger.error("job dead: its last attempt never finished", metadata: [
                "queue": "\(queue)", "job": "\(job.id)", "kind": "\(job.kind)", "error": "\(error)",
            ])
            await bury(job, error: error)
        }
        signal.yield(.leased(count: batch.jobs.count, limit: limit, nextDueAt: batch.nextDueAt))
        await withDiscardingTaskGroup { group in
            var together: [String: (handler: any BatchJobHandler, jobs: [LeasedJob])] = [:]
            for job in batch.jobs {
                if let handler = handlers[job.kind] as? any BatchJobHandler {
                    together[job.kind, default: (handler, [])].jobs.append(job)
                    continue
                }
                group.addTask {
                    await self.perform(job, policy: policy)
                    signal.yield(.finished(count: 1))
                }
            }
            for (handler, jobs) in together.values {
                group.addTask {
                    let failures = await handler.run(batch: jobs)
                    for job in jobs {
                        if let error = failures[job.lease.jobId] {
                            await self.failed(job, error, policy: policy)
                        } else {
                            self.count(job.queue) { $0.completed += 1 }
                        }
                    }
                    signal.yield(.finished(count: jobs.count))
                }
            }
        }
    }

    /// One attempt: the handler runs; the job is then completed, or failed for a retry, or buried.
    private func perform(_ job: LeasedJob, policy: QueuePolicy) async {
        do {
            guard let handler = handlers[job.kind] else { throw JobFailure("no handler for jobs of kind '\(job.kind)'") }
            try await handler.run(job)
            try await repository.complete(job.lease)
            count(job.queue) { $0.completed += 1 }
        } catch {
            await failed(job, error, policy: policy)
        }
    }

    /// An attempt that failed: the job waits for its next attempt, or is buried after its last.
    private func failed(_ job: LeasedJob, _ error: any Error, policy: QueuePolicy) async {
        let reason = "\(error)"
        count(job.queue) { $0.failedAttempts += 1 }
        guard let retryAt = policy.retryAt(afterAttempt: job.attempt, now: clock(), random: random()) else {
            logger.error("job dead after its last attempt", metadata: [
                "queue": "\(job.queue)", "job": "\(job.id)", "kind": "\(job.kind)", "attempts": "\(job.attempt)",
                "error": "\(reason)",
            ])
            await bury(job, error: reason)
            return
        }
        logger.warning("job attempt failed", metadata: [
            "queue": "\(job.queue)", "job": "\(job.id)", "kind": "\(job.kind)", "attempt": "\(job.attempt)",
            "error": "\(reason)",
        ])
        do {
            try await repository.fail(job.lease, error: reason, retryAt: retryAt)
        } catch {
            // The lease runs out and the job runs again: handlers are idempotent.
            logger.error("recording a failed job failed", metadata: ["job": "\(job.id)", "error": "\(error)"])
        }
    }

    /// Tells the job's handler it failed for good, then marks it dead: in that order, so a crash in between tells
    /// the handler again rather than never.
    private func bury(_ job: LeasedJob, error: String) async {
        count(job.queue) { $0.buried += 1 }
        await handlers[job.kind]?.buried(job, error: error)
        do {
            try await repository.fail(job.lease, error: error, retryAt: nil)
        } catch {
            logger.error("recording a dead job failed", metadata: ["job": "\(job.id)", "error": "\(error)"])
        }
    }

    // MARK: Schedules

    /// Fires each schedule when due — at once when its time passed while the daemon was down, but only once — then
    /// sleeps until the next one.
    private func keepSchedules() async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let now = clock()
            var wake = now + 3_600_000
            for schedule in schedules {
                do {
                    let fired = try await repository.fireSchedule(
                        name: schedule.name, spec: schedule.spec, job: schedule.job, now: now,
                        nextAt: { [schedule] in schedule.next(after: $0) })
                    if fired { logger.info("scheduled job enqueued", metadata: ["schedule": "\(schedule.name)"]) }
                } catch {
                    logger.error("a schedule failed", metadata: ["schedule": "\(schedule.name)", "error": "\(error)"])
                }
                wake = min(wake, schedule.next(after: now))
            }
            let delay = max(wake - clock(), 1000)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(delay)) }
        }
    }

    // MARK: Administration (chatctl) and metrics

    public func pause(_ queue: String) async throws {
        try requireQueue(queue)
        try await repository.setPaused(true, queue: queue)
        signals[queue]?.continuation.yield(.paused(true))
    }

    public func resume(_ queue: String) async throws {
        try requireQueue(queue)
        try await repository.setPaused(false, queue: queue)
        signals[queue]?.continuation.yield(.paused(false))
    }

    public func jobs(queue: String?, state: JobState?, limit: Int = 100) async throws -> [JobRecord] {
        try await repository.jobs(queue: queue, state: state, limit: limit)
    }

    public func job(_ id: Int64) async throws -> JobRecord? {
        try await repository.job(id)
    }

    /// Gives a dead job a fresh set of attempts, or runs a waiting one now; false when no job with that id is dead or
    /// waiting.
    public func retry(_ id: Int64) async throws -> Bool {
        try await repository.retry(id, now: clock())
    }

    public func purgeDead(queue: String?) async throws -> Int {
        if let queue { try requireQueue(queue) }
        return try await repository.purgeDead(queue: queue)
    }

    /// Per queue: what waits in the store, and what this process has done since it started.
    public func figures() async throws -> [QueueFigures] {
        let depths = Dictionary(uniqueKeysWithValues: try await repository.depths(now: clock()).map { ($0.queue, $0) })
        let counters = counters.withLock { $0 }
        return Set(policies.keys).union(depths.keys).sorted().map { queue in
            QueueFigures(depth: depths[queue] ?? QueueDepth(queue: queue), counters: counters[queue] ?? QueueCounters())
        }
    }

    private func requireQueue(_ queue: String) throws {
        guard policies[queue] != nil else {
            throw ChatError.notFound("queue '\(queue)' (the queues are \(policies.keys.sorted().joined(separator: ", ")))")
        }
    }

    private func count(_ queue: String, _ change: (inout QueueCounters) -> Void) {
        counters.withLock { change(&$0[queue, default: QueueCounters()]) }
    }
}

/// What one process did with a queue since it started (Prometheus counters).
public struct QueueCounters: Sendable, Equatable, Codable {
    public var completed = 0
    public var failedAttempts = 0
    public var buried = 0
    public init() {}
}

/// A queue's figures: its depth in the store and this process's counters.
public struct QueueFigures: Sendable, Equatable, Codable {
    public var depth: QueueDepth
    public var counters: QueueCounters
    public var queue: String { depth.queue }
}
