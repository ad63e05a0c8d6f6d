import ChatCore
import Foundation
import Hummingbird
import Synchronization

/// Token buckets keyed by a string (an IP address, a user id): `capacity` requests, refilled evenly over `period`.
/// Answers how many seconds to wait when a key is out of tokens.
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    let capacity: Double
    private let refillPerSecond: Double
    private let buckets = Mutex<[String: Bucket]>([:])
    /// Past this many keys, full buckets are dropped (a full bucket is the same as no bucket).
    private let maxKeys = 50_000

    init(capacity: Int, per period: Double) {
        self.capacity = Double(capacity)
        refillPerSecond = Double(capacity) / period
    }

    /// Takes one token for `key`; nil when allowed, else the seconds until one is available.
    func take(_ key: String, now: Double = Date().timeIntervalSinceReferenceDate) -> Int? {
        buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: capacity, updated: now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * refillPerSecond)
            bucket.updated = now
            defer { buckets[key] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                if buckets.count > maxKeys { prune(&buckets, now: now) }
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / refillPerSecond).rounded(.up)))
        }
    }

    /// Throws `rate_limited` with a retry-after when `key` is out of tokens.
    func enforce(_ key: String, what: String) throws {
        if let wait = take(key) {
            throw ChatError(.rateLimited, "too many \(what); retry in \(wait) s", retryAfter: wait)
        }
    }

    private func prune(_ buckets: inout [String: Bucket], now: Double) {
        buckets = buckets.filter { _, bucket in
            bucket.tokens + (now - bucket.updated) * refillPerSecond < capacity
        }
    }
}

/// Applies a per-IP `RateLimiter` to every route it wraps.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = ChatRequestContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        try limiter.enforce("ip:" + context.clientIP, what: "requests from this address")
        return try await next(request, context)
    }
}
