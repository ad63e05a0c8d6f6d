import ChatAdmin
import ChatCore
import ChatPush
import Crypto
import Foundation

/// Devices' push targets and users' push settings: registration checked against the vendors that are on, and
/// `chatctl push test`.
struct PushService: Sendable {
    let store: any PushRepository
    let sender: PushSender
    /// The push services Web Push endpoints may name (`push.webpush.allowed_hosts`).
    let webPush: PushConfiguration.WebPush

    /// Registers the calling device's target (replacing the one it had).
    func register(_ registration: PushTargetRegistration, identity: Identity) async throws -> PushTarget {
        // A platform the server does not offer is refused whatever the body says: nothing else of it matters.
        guard sender.platforms.contains(registration.platform) else {
            throw ChatError(
                .conflict,
                "\(registration.platform.rawValue) push is not configured on this server (GET /v1/push/config lists what is)")
        }
        let clean = try registration.validated()
        if clean.platform == .webpush, !webPush.allows(endpoint: clean.token) {
            throw ChatError.invalid(
                "endpoint: \(URL(string: clean.token)?.host ?? "this host") is not a push service this server sends to (push.webpush.allowed_hosts)")
        }
        if clean.platform == .webpush, let key = clean.p256dh {
            guard (try? P256.KeyAgreement.PublicKey(x963Representation: key)) != nil else {
                throw ChatError.invalid("keys.p256dh is not a point on the P-256 curve")
            }
        }
        return try await store.register(clean, user: identity.userId, session: identity.sessionId, now: Clock.nowMillis())
    }

    func targets(of user: UserID) async throws -> [PushTarget] {
        try await store.targets(of: user)
    }

    func remove(target: Int64, user: UserID) async throws {
        guard try await store.remove(target: target, user: user) else { throw ChatError.notFound("push target") }
    }

    /// Removes the calling device's target.
    func removeOwn(identity: Identity) async throws {
        guard let session = identity.sessionId, try await store.removeTarget(session: session) else {
            throw ChatError.notFound("push target of this device")
        }
    }

    func settings(of user: UserID) async throws -> PushSettings {
        try await store.settings(of: user)
    }

    func setSettings(_ settings: PushSettings, user: UserID) async throws {
        try await store.setSettings(settings, user: user)
    }

    /// Sends the test notification to every target of the user, one by one, and says what each vendor answered;
    /// a target the vendor reports gone is removed, as a real notification would remove it.
    func test(user: UserID, badge: Int = 0) async throws -> PushTestReport {
        var results: [PushTestReport.Result] = []
        for target in try await store.targets(of: user) {
            let attempt = await sender.send(.test(badge: badge), to: target)
            var removed = false
            if case .targetGone = attempt.outcome {
                removed = try await store.remove(target: target.id, user: user)
            }
            results.append(
                PushTestReport.Result(
                    targetId: target.id, platform: target.platform.rawValue,
                    outcome: attempt.outcome == .delivered ? "delivered" : attempt.outcome.metricReason,
                    detail: attempt.outcome.detail, answer: attempt.answer, removed: removed))
        }
        return PushTestReport(userId: user, results: results)
    }
}
