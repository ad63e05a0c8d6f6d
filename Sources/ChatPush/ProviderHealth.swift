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

/// Every vendor's health: one per platform (whether its credentials load and are taken), and for Web Push one per
/// push service, since each service judges the VAPID token on its own and one that refuses it (or a service that
/// answers 401 for any reason) must not stop the notifications to the others.
public struct PushHealth: Sendable, Equatable {
    public enum Admission: Sendable, Equatable {
        case admitted
        case notConfigured
        /// Failing, with the reason the vendor gave (or the credentials' problem).
        case failing(String)
    }

    public private(set) var platforms: [PushPlatform: ProviderHealth]
    /// Web Push services by origin, as they were first used.
    public private(set) var services: [String: ProviderHealth] = [:]

    /// `platforms` holds the configured platforms: healthy-unknown, or unusable from the start.
    public init(platforms: [PushPlatform: ProviderHealth]) {
        self.platforms = platforms
    }

    /// Which vendor a target's notifications go to: its platform, or its Web Push service's origin.
    public static func vendor(of target: PushTarget) -> String {
        target.platform == .webpush ? WebPushVendor.audience(of: target.token) ?? target.token : target.platform.rawValue
    }

    /// Whether a notification to `target` may go out now (a failing vendor lets one probe through per interval).
    public mutating func admit(_ target: PushTarget, now: Millis) -> Admission {
        guard var platform = platforms[target.platform] else { return .notConfigured }
        if target.platform == .webpush, !platform.isFailing {
            let origin = Self.vendor(of: target)
            var service = services[origin] ?? ProviderHealth(probeInterval: platform.probeInterval)
            defer { services[origin] = service }
            return service.admit(now: now) ? .admitted : .failing(Self.reason(service))
        }
        defer { platforms[target.platform] = platform }
        return platform.admit(now: now) ? .admitted : .failing(Self.reason(platform))
    }

    /// Records what a send's answer said about the credentials.
    public mutating func record(_ outcome: PushOutcome, for target: PushTarget, now: Millis) {
        if target.platform == .webpush {
            services[Self.vendor(of: target), default: ProviderHealth()].record(outcome, now: now)
            // A refusal is that service's; the platform's own state says the key itself works somewhere.
            if case .credentialsRejected = outcome { return }
        }
        platforms[target.platform]?.record(outcome, now: now)
    }

    private static func reason(_ health: ProviderHealth) -> String {
        if case .failing(let reason, _) = health.state { return reason }
        return "failing"
    }
}
