import ChatCore

/// How one named queue runs: how many of its jobs at once, how many attempts each gets, how long a failed attempt
/// waits before the next, and how long a worker holds a job before it counts as abandoned.
public struct QueuePolicy: Sendable, Equatable {
    public var concurrency: Int
    public var maxAttempts: Int
    /// The wait after a first failed attempt; it doubles with each further failure, up to `maxBackoffSeconds`.
    public var backoffSeconds: Int
    public var maxBackoffSeconds: Int
    /// The visibility timeout: a job whose worker has not finished it after this long runs again. Longer than
    /// any attempt takes (handlers bound their own work).
    public var leaseSeconds: Int
    /// How long the worker waits after jobs are enqueued before it leases, so the jobs of a busy moment share one
    /// lease (0: lease at once).
    public var gatherMillis: Int

    public init(
        concurrency: Int, maxAttempts: Int, backoffSeconds: Int, maxBackoffSeconds: Int = 3600, leaseSeconds: Int,
        gatherMillis: Int = 0
    ) {
        self.concurrency = concurrency
        self.maxAttempts = maxAttempts
        self.backoffSeconds = backoffSeconds
        self.maxBackoffSeconds = maxBackoffSeconds
        self.leaseSeconds = leaseSeconds
        self.gatherMillis = gatherMillis
    }

    /// The original design's queues: images two at a time with three attempts, notifications with five (deciding who
    /// is told, then delivering to the vendors), cleanup alone. Every message makes a notify job: they are gathered
    /// for 20 ms and decided 64 at a time, in one read and one write (`BatchJobHandler`), so a message costs its own
    /// commit and a share of two more, not three (measured with `chatbench direct`).
    public static let defaults: [String: QueuePolicy] = [
        Job.Queue.media: QueuePolicy(concurrency: 2, maxAttempts: 3, backoffSeconds: 5, leaseSeconds: 300),
        Job.Queue.notify: QueuePolicy(
            concurrency: 64, maxAttempts: 5, backoffSeconds: 2, leaseSeconds: 60, gatherMillis: 20),
        // A batch stops starting sends after 30 s; a send and its token take at most 40 s more.
        Job.Queue.push: QueuePolicy(concurrency: 5, maxAttempts: 5, backoffSeconds: 2, leaseSeconds: 120),
        Job.Queue.cleanup: QueuePolicy(concurrency: 1, maxAttempts: 3, backoffSeconds: 60, leaseSeconds: 3600),
    ]

    /// When the attempt that just failed should be followed by another: nil when it was the last (the job is dead).
    /// Exponential backoff with "equal jitter": half the delay is fixed, half random, so jobs that failed together
    /// (a downstream service that was down) do not all come back in the same instant. `random` is in 0..<1.
    public func retryAt(afterAttempt attempt: Int, now: Millis, random: Double) -> Millis? {
        guard attempt < maxAttempts else { return nil }
        let doublings = min(max(attempt - 1, 0), 30)
        let delay = min(Double(backoffSeconds) * Double(1 << doublings), Double(maxBackoffSeconds)) * 1000
        return now + Millis(delay / 2 + delay / 2 * min(max(random, 0), 1))
    }
}
