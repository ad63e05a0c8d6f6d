/// Work to do after a change commits (a push notification, a thumbnail): enqueued in the same transaction as the
/// change, so it exists exactly when the change does.
public struct Job: Sendable, Equatable {
    /// The named queue (`notify`, `media`, `cleanup`): its concurrency, attempts and backoff.
    public var queue: String
    /// Jobs with the same key run in order (e.g. one message's media).
    public var key: String?
    /// What the handler needs, as a JSON object.
    public var payload: String

    public init(queue: String, key: String? = nil, payload: String) {
        self.queue = queue
        self.key = key
        self.payload = payload
    }
}

/// Receives the jobs enqueued by committed writes, right after their transaction is durable (the job runner wakes
/// its workers with them). The store calls it; it must not block.
public protocol JobPublisher: Sendable {
    func publish(_ jobs: [Job])
}
