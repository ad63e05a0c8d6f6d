import ChatCore

/// The decisions of one queue's worker, as a value: when to lease and how many. The runner feeds it what happened
/// (jobs were enqueued, a job finished, a lease came back, a second passed) and performs the lease it asks for, so
/// the rules are tested by driving it with explicit times.
///
/// Rules: never more jobs in flight than the queue's concurrency and at most one lease at a time; lease when jobs
/// were enqueued or finished (a finished job may free the next of its key), or when the earliest job the store knows
/// of falls due; nothing while paused or stopping. A lease that came back short means the rest is blocked or not yet
/// due: the next try waits for news or the next tick. A queue that gathers (`QueuePolicy.gatherMillis`) waits that
/// long after jobs are enqueued before it leases, so the jobs of a busy moment share one lease (and a batch handler's
/// one read and one write) instead of one each.
struct QueueDispatch: Equatable {
    enum Event: Equatable {
        /// Jobs of this queue were enqueued (or made ready again).
        case enqueued
        /// Jobs finished: one, or all the jobs a batch handler was given at once (one event, so the first of them
        /// to be counted does not start a lease of one while the rest are being settled).
        case finished(count: Int)
        case leased(count: Int, limit: Int, nextDueAt: Millis?)
        case leaseFailed
        case tick
        /// The gathering time asked for with `wake(at:)` is over.
        case gathered
        case paused(Bool)
        case stop
    }

    enum Action: Equatable {
        case none
        case lease(limit: Int)
        /// Send `gathered` at this time.
        case wake(at: Millis)
    }

    let concurrency: Int
    let gather: Millis
    /// While gathering: when it ends. No lease starts before.
    private(set) var gatheringUntil: Millis?
    private(set) var inFlight = 0
    private(set) var leasing = false
    private(set) var paused = false
    private(set) var stopping = false
    /// Something happened that may have made a job leasable now.
    private var news = true
    /// The earliest time the store said a job falls due (nil: the queue was empty).
    private var nextDueAt: Millis?

    init(concurrency: Int, gather: Millis = 0, paused: Bool = false) {
        self.concurrency = concurrency
        self.gather = gather
        self.paused = paused
    }

    /// Stopped, with nothing in flight: the worker may end.
    var isFinished: Bool { stopping && inFlight == 0 && !leasing }

    mutating func handle(_ event: Event, now: Millis) -> Action {
        switch event {
        case .enqueued where gather > 0 && gatheringUntil == nil && !paused && !stopping:
            news = true
            gatheringUntil = now + gather
            return .wake(at: now + gather)
        case .enqueued:
            news = true
        case .finished(let count):
            inFlight -= count
            news = true
        case .gathered:
            gatheringUntil = nil
        case .leased(let count, let limit, let due):
            leasing = false
            inFlight += count
            nextDueAt = due
            // A full batch: more may be waiting. A short one: what is left is blocked behind its key or not due —
            // unless news came while the lease ran (a job committed after the lease looked), which still counts.
            news = news || count == limit
        case .leaseFailed:
            leasing = false
            // Try again at the next tick (the store may be busy), not only when the next job is enqueued.
            nextDueAt = now
        case .tick:
            if let due = nextDueAt, due <= now { news = true }
        case .paused(let value):
            paused = value
            news = !value
        case .stop:
            stopping = true
        }
        return next()
    }

    private mutating func next() -> Action {
        guard news, !paused, !stopping, !leasing, gatheringUntil == nil, inFlight < concurrency else { return .none }
        news = false
        leasing = true
        return .lease(limit: concurrency - inFlight)
    }
}
