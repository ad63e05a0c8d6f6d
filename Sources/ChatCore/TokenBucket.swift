/// A token bucket: `burst` tokens at once, refilled at `perSecond`. The one rate-limit rule of chatd, for HTTP
/// clients, users and sockets alike.
///
/// Time is whatever monotonic clock the caller reads, in seconds, passed to every call, so a test drives it with
/// explicit times. The rate and the burst are passed to each call rather than stored: a bucket lives in every
/// socket's session, and every byte of an idle session counts thousands of times.
public struct TokenBucket: Sendable, Equatable {
    private var tokens: Double
    private var updated: Double?

    /// A full bucket.
    public init(burst: Int) {
        tokens = Double(burst)
    }

    /// Takes one token if there is one.
    public mutating func take(now: Double, perSecond: Double, burst: Int) -> Bool {
        refill(now: now, perSecond: perSecond, burst: burst)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Whole seconds until the next token (at least 1), for a `Retry-After`.
    public func secondsUntilNextToken(perSecond: Double) -> Int {
        max(1, Int(((1 - tokens) / perSecond).rounded(.up)))
    }

    /// Whether the bucket would be full at `now`: a full bucket is the same as no bucket, so it can be forgotten.
    public func isFull(now: Double, perSecond: Double, burst: Int) -> Bool {
        var copy = self
        copy.refill(now: now, perSecond: perSecond, burst: burst)
        return copy.tokens >= Double(burst)
    }

    private mutating func refill(now: Double, perSecond: Double, burst: Int) {
        if let updated, now > updated {
            tokens = min(Double(burst), tokens + (now - updated) * perSecond)
        }
        updated = max(updated ?? now, now)
    }
}
