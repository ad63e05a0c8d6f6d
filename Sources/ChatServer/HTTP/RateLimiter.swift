import ChatCore
import Foundation
import Hummingbird
import Synchronization

/// Token buckets keyed by a string (an IP address, a user id): `capacity` requests, refilled evenly over `period`.
/// Answers how many seconds to wait when a key is out of tokens.
final class RateLimiter: Sendable {
    let capacity: Int
    private let refillPerSecond: Double
    private let buckets = Mutex<[String: TokenBucket]>([:])
    /// Past this many keys, full buckets are dropped (a full bucket is the same as no bucket).
    private let maxKeys = 50_000

    init(capacity: Int, per period: Double) {
        self.capacity = capacity
        refillPerSecond = Double(capacity) / period
    }

    /// Takes one token for `key`; nil when allowed, else the seconds until one is available.
    func take(_ key: String, now: Double = ProcessInfo.processInfo.systemUptime) -> Int? {
        buckets.withLock { buckets in
            var bucket = buckets[key] ?? TokenBucket(burst: capacity)
            defer { buckets[key] = bucket }
            guard bucket.take(now: now, perSecond: refillPerSecond, burst: capacity) else {
                return bucket.secondsUntilNextToken(perSecond: refillPerSecond)
            }
            if buckets.count > maxKeys {
                buckets = buckets.filter { !$0.value.isFull(now: now, perSecond: refillPerSecond, burst: capacity) }
            }
            return nil
        }
    }

    /// Throws `rate_limited` with a retry-after when `key` is out of tokens.
    func enforce(_ key: String, what: String) throws {
        if let wait = take(key) {
            throw ChatError(.rateLimited, "too many \(what); retry in \(wait) s", retryAfter: wait)
        }
    }
}
