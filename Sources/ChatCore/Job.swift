/// Work to do after a change commits (a push notification, a thumbnail): a row enqueued in the same transaction as
/// the change, so it exists exactly when the change does.
public struct Job: Sendable, Equatable {
    /// What to do: the handler that runs it (`notify.message`, `media.process`, `cleanup.daily`).
    public var kind: String
    /// The named queue (`notify`, `push`, `media`, `cleanup`): its concurrency, attempts and backoff.
    public var queue: String
    /// Jobs with the same key run one at a time, in the order they were enqueued (e.g. one upload's processing).
    public var key: String?
    /// What the handler needs, as a JSON object.
    public var payload: String
    /// Not before this time (nil: as soon as a worker is free).
    public var runAt: Millis?

    public init(kind: String, queue: String, key: String? = nil, payload: String, runAt: Millis? = nil) {
        self.kind = kind
        self.queue = queue
        self.key = key
        self.payload = payload
        self.runAt = runAt
    }
}

/// Receives the queues of jobs enqueued by committed writes, right after their transaction is durable: the job
/// runner wakes those queues' workers. The store calls it; it must not block.
public protocol JobPublisher: Sendable {
    func publish(_ jobs: [Job])
}

/// One attempt's hold on a job. Completing or failing a job names its lease, so a worker whose lease expired (and
/// whose job went to another attempt) changes nothing.
public struct JobLease: Sendable, Hashable {
    public var jobId: Int64
    /// 1 for the first attempt.
    public var attempt: Int

    public init(jobId: Int64, attempt: Int) {
        self.jobId = jobId
        self.attempt = attempt
    }
}

/// A job handed to a worker for one attempt.
public struct LeasedJob: Sendable, Equatable {
    public var lease: JobLease
    public var kind: String
    public var queue: String
    public var key: String?
    public var payload: String
    public var enqueuedAt: Millis

    public init(lease: JobLease, kind: String, queue: String, key: String?, payload: String, enqueuedAt: Millis) {
        self.lease = lease
        self.kind = kind
        self.queue = queue
        self.key = key
        self.payload = payload
        self.enqueuedAt = enqueuedAt
    }

    public var id: Int64 { lease.jobId }
    public var attempt: Int { lease.attempt }
}

public enum JobState: String, Sendable, Codable, CaseIterable {
    /// Waiting for its time (`availableAt`) and a free worker; a failed attempt waits here for its retry.
    case ready
    /// Leased by a worker until `availableAt`; after that the lease is void and the job runs again.
    case running
    /// Failed its last attempt (or its worker died during it): kept with its error until retried or purged.
    case dead
}

/// A job as `chatctl jobs` shows it.
public struct JobRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var kind: String
    public var queue: String
    public var key: String?
    public var payload: String
    public var state: JobState
    /// Attempts started so far.
    public var attempts: Int
    /// Ready: when it may run. Running: when its lease ends.
    public var availableAt: Millis
    public var createdAt: Millis
    public var lastError: String?

    public init(
        id: Int64, kind: String, queue: String, key: String?, payload: String, state: JobState, attempts: Int,
        availableAt: Millis, createdAt: Millis, lastError: String?
    ) {
        self.id = id
        self.kind = kind
        self.queue = queue
        self.key = key
        self.payload = payload
        self.state = state
        self.attempts = attempts
        self.availableAt = availableAt
        self.createdAt = createdAt
        self.lastError = lastError
    }
}

/// What the store knows of one queue, for metrics and `chatctl jobs`.
public struct QueueDepth: Sendable, Equatable, Codable {
    public var queue: String
    /// Due now (ready with its time come), waiting for a worker.
    public var ready: Int
    /// Ready but not before a later time (retries backing off, scheduled jobs).
    public var delayed: Int
    public var running: Int
    public var dead: Int
    /// How long the oldest due job has waited past its time, in milliseconds (0 when none is due).
    public var oldestReadyAgeMillis: Millis
    public var paused: Bool

    public init(
        queue: String, ready: Int = 0, delayed: Int = 0, running: Int = 0, dead: Int = 0,
        oldestReadyAgeMillis: Millis = 0, paused: Bool = false
    ) {
        self.queue = queue
        self.ready = ready
        self.delayed = delayed
        self.running = running
        self.dead = dead
        self.oldestReadyAgeMillis = oldestReadyAgeMillis
        self.paused = paused
    }
}

/// The leases a worker took, the jobs whose leases ran out after their last attempt, and when the queue's next job
/// falls due.
public struct LeaseBatch: Sendable, Equatable {
    public var jobs: [LeasedJob]
    /// Their worker died during their last attempt, perhaps because of them (an image that crashes the process):
    /// they are not run again. The caller tells their handler and then marks them dead (`fail` without a retry).
    public var exhausted: [LeasedJob]
    /// The earliest time a job of the queue that is not dead becomes available; nil when the queue is empty.
    public var nextDueAt: Millis?

    public init(jobs: [LeasedJob], exhausted: [LeasedJob], nextDueAt: Millis?) {
        self.jobs = jobs
        self.exhausted = exhausted
        self.nextDueAt = nextDueAt
    }
}

/// The durable job queue, in the same database as the data the jobs are about. A write enqueues its jobs through
/// its own transaction; these are the queue's own operations.
public protocol JobRepository: Sendable {
    /// Enqueues jobs in a transaction of their own (schedules, retries from `chatctl`); a change's jobs go with
    /// the change instead.
    func enqueue(_ jobs: [Job]) async throws
    /// Leases up to `limit` due jobs of `queue` until `leaseUntil`, oldest first, skipping a job while an earlier
    /// job with its key is not finished. A job whose lease ran out after `maxAttempts` attempts is returned as
    /// exhausted instead of being run again.
    func lease(queue: String, limit: Int, now: Millis, leaseUntil: Millis, maxAttempts: Int) async throws
        -> LeaseBatch
    /// Finishes a job (removes it). False when the lease is no longer held (it ran out and another attempt began).
    @discardableResult
    func complete(_ lease: JobLease) async throws -> Bool
    /// Records a failed attempt: the job waits until `retryAt`, or is dead when `retryAt` is nil.
    @discardableResult
    func fail(_ lease: JobLease, error: String, retryAt: Millis?) async throws -> Bool
    /// Makes every running job available now: their leases belong to a process that is gone. For start-up.
    func releaseLeases(now: Millis) async throws -> Int

    func jobs(queue: String?, state: JobState?, limit: Int) async throws -> [JobRecord]
    func job(_ id: Int64) async throws -> JobRecord?
    /// Makes a dead job ready again with a fresh count of attempts, or a job waiting for its time (a retry backing
    /// off, a scheduled job) due now; false when no job with that id is dead or waiting.
    func retry(_ id: Int64, now: Millis) async throws -> Bool
    /// Deletes dead jobs (of one queue, or all); returns how many.
    func purgeDead(queue: String?) async throws -> Int
    func setPaused(_ paused: Bool, queue: String) async throws
    func pausedQueues() async throws -> Set<String>
    func depths(now: Millis) async throws -> [QueueDepth]

    /// Enqueues the job of a schedule when its time has come — once, however many times it was missed while the
    /// daemon was down — and stores its next time, `nextAt(now)`; returns whether it enqueued. A schedule seen for the
    /// first time, or whose `spec` changed, only gets its next time.
    func fireSchedule(name: String, spec: String, job: Job, now: Millis, nextAt: @Sendable (Millis) -> Millis)
        async throws -> Bool
}
