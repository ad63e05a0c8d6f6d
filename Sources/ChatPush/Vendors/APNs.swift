import ChatCore
import Foundation

/// Apple Push Notification service over HTTP/2 with token-based authentication: an ES256 provider token signed
/// with the `.p8` key, sent as bearer with each `POST /3/device/<token>`.
public struct APNsVendor: Sendable {
    public var key: APNsSigningKey
    public var productionURL: String
    public var sandboxURL: String
    public var ttlSeconds: Int

    /// Apple refuses a provider token older than an hour, and one renewed more often than every 20 minutes: each is
    /// used for 50.
    public static let tokenLifetime: Millis = 50 * 60_000

    public init(key: APNsSigningKey, productionURL: String, sandboxURL: String, ttlSeconds: Int) {
        self.key = key
        self.productionURL = productionURL.hasSuffix("/") ? String(productionURL.dropLast()) : productionURL
        self.sandboxURL = sandboxURL.hasSuffix("/") ? String(sandboxURL.dropLast()) : sandboxURL
        self.ttlSeconds = ttlSeconds
    }

    /// A provider token and when it was made.
    public struct ProviderToken: Sendable, Equatable {
        public var value: String
        public var issuedAt: Millis

        public func isFresh(now: Millis) -> Bool { now - issuedAt < APNsVendor.tokenLifetime && now >= issuedAt }
    }

    private struct Claims: Encodable {
        var iss: String
        var iat: Int64
    }

    public func providerToken(now: Millis) throws -> ProviderToken {
        ProviderToken(
            value: try CompactJWT.es256(keyId: key.keyId, claims: Claims(iss: key.teamId, iat: now / 1000), key: key.key),
            issuedAt: now)
    }

    private struct Payload: Encodable {
        struct APS: Encodable {
            struct Alert: Encodable {
                var title: String
                var body: String
            }
            var alert: Alert
            var badge: Int
            var sound = "default"
            var threadId: String
            var mutableContent = 1
            enum CodingKeys: String, CodingKey {
                case alert, badge, sound
                case threadId = "thread-id"
                case mutableContent = "mutable-content"
            }
        }
        var aps: APS
        var chatd: [String: String]
    }

    public func request(_ content: PushContent, to target: PushTarget, token: ProviderToken, now: Millis) throws
        -> VendorRequest
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = try encoder.encode(
            Payload(
                aps: .init(
                    alert: .init(title: content.title, body: content.body), badge: content.badge,
                    threadId: content.collapseKey),
                chatd: content.stringFields))
        return VendorRequest(
            url: "\(target.sandbox ? sandboxURL : productionURL)/3/device/\(target.token)",
            headers: [
                "authorization": "bearer \(token.value)",
                "apns-push-type": "alert",
                "apns-topic": target.topic ?? "",
                "apns-collapse-id": content.collapseKey,
                "apns-expiration": "\(now / 1000 + Int64(ttlSeconds))",
                "apns-priority": "10",
                "content-type": "application/json",
            ],
            body: body)
    }

    private struct ErrorAnswer: Decodable {
        var reason: String?
    }

    /// What an answer means, by its status and Apple's `reason`.
    public func outcome(of response: VendorResponse, now: Millis) -> PushOutcome {
        if response.status == 200 { return .delivered }
        let reason = (try? JSONDecoder().decode(ErrorAnswer.self, from: response.body))?.reason ?? "HTTP \(response.status)"
        switch (response.status, reason) {
        case (410, _), (400, "BadDeviceToken"), (400, "DeviceTokenNotForTopic"), (400, "Unregistered"),
            (400, "TopicDisallowed"):
            return .targetGone(reason: reason)
        case (403, _):
            // InvalidProviderToken, ExpiredProviderToken, MissingProviderToken, BadCertificate…
            return .credentialsRejected(reason: reason)
        case (429, _), (500..., _):
            return .retry(afterSeconds: response.retryAfter(now: now), reason: reason)
        default:
            return .rejected(reason: reason)
        }
    }
}
