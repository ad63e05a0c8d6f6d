import ChatCore

/// Whether a vendor takes chatd's credentials. A value the sender keeps per vendor and feeds each outcome: after
/// the vendor refuses the credentials, notifications to it are dropped (not retried forever) and one probe goes
/// out every `probeInterval` until a send succeeds; `chatctl status` and `check` show the state.
public struct ProviderHealth: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// Nothing sent yet since start or reload.
        case unknown
        case healthy(since: Millis)
        /// The credentials were refused (or could not be read): `reason` says how.
        case failing(reason: String, since: Millis)
    }

    public private(set) var state: State
    /// While failing: when the next send may go out as a probe.
    public private(set) var probeAt: Millis?
    public let probeInterval: Millis

    public init(probeInterval: Millis = 300_000) {
        state = .unknown
        self.probeInterval = probeInterval
    }

    /// Credentials that could not be loaded: failing from the start, with no probe (only a reload fixes them).
    public static func unusable(_ reason: String, now: Millis) -> ProviderHealth {
        var health = ProviderHealth()
        health.state = .failing(reason: reason, since: now)
        health.probeAt = .max
        return health
    }

    public var isFailing: Bool {
        if case .failing = state { return true }
        return false
    }

    /// Whether a send may go out now. While failing, only the probe does; taking it moves the next one on.
    public mutating func admit(now: Millis) -> Bool {
        guard isFailing else { return true }
        guard let probeAt, now >= probeAt, probeAt != .max else { return false }
        self.probeAt = now + probeInterval
        return true
    }

    /// Records what a send's answer said about the credentials.
    public mutating func record(_ outcome: PushOutcome, now: Millis) {
        switch outcome {
        case .credentialsRejected(let reason):
            if case .failing(_, let since) = state {
                state = .failing(reason: reason, since: since)
            } else {
                state = .failing(reason: reason, since: now)
            }
            probeAt = now + probeInterval
        case .delivered, .targetGone, .rejected:
            // The vendor read the credentials and answered about the target: they work.
            if case .healthy = state { return }
            state = .healthy(since: now)
            probeAt = nil
        case .retry, .providerUnavailable:
            break
        }
    }
}
