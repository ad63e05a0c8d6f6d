import ChatCore
import Foundation
import Hummingbird
import Synchronization

/// Token buckets keyed by a string (an IP address, a user id): `capacity` requests, refilled evenly over `period`.
/// Answers how many seconds to wait when a key is out of tokens. A reload changes the capacity in place.
final class RateLimiter: Sendable {
    private struct State {
        var capacity: Int
        var refillPerSecond: Double
        var buckets: [String: TokenBucket] = [:]
    }

    private let period: Double
    private let state: Mutex<State>
    /// Past this many keys, full buckets are dropped (a full bucket is the same as no bucket).
    private let maxKeys = 50_000

    init(capacity: Int, per period: Double) {
        self.period = period
        state = Mutex(State(capacity: capacity, refillPerSecond: Double(capacity) / period))
    }

    var capacity: Int { state.withLock { $0.capacity } }

    /// A new capacity for every key, from the next request on (buckets keep the tokens they have, up to it).
    func reconfigure(capacity: Int) {
        state.withLock {
            $0.capacity = capacity
            $0.refillPerSecond = Double(capacity) / period
        }
    }

    /// Takes one token for `key`; nil when allowed, else the seconds until one is available.
    func take(_ key: String, now: Double = ProcessInfo.processInfo.systemUptime) -> Int? {
        state.withLock { state in
            let (capacity, perSecond) = (state.capacity, state.refillPerSecond)
            var bucket = state.buckets[key] ?? TokenBucket(burst: capacity)
            defer { state.buckets[key] = bucket }
            guard bucket.take(now: now, perSecond: perSecond, burst: capacity) else {
                return bucket.secondsUntilNextToken(perSecond: perSecond)
            }
            if state.buckets.count > maxKeys {
                state.buckets = state.buckets.filter { !$0.value.isFull(now: now, perSecond: perSecond, burst: capacity) }
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
