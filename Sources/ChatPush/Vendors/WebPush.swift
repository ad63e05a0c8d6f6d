import ChatCore
import Crypto
import Foundation

/// Web Push (RFC 8030) to a browser's subscription: the payload encrypted to the subscription's key (RFC 8291) and
/// the request signed by the server's VAPID key (RFC 8292), whose public half the web app subscribed with.
public struct WebPushVendor: Sendable {
    public var vapid: VAPIDKey
    public var ttlSeconds: Int

    /// A VAPID token is good for 12 hours (services refuse more than 24); each is used for 11, per push service.
    public static let tokenLifetime: Millis = 12 * 3_600_000
    public static let tokenReuse: Millis = 11 * 3_600_000

    public init(vapid: VAPIDKey, ttlSeconds: Int) {
        self.vapid = vapid
        self.ttlSeconds = ttlSeconds
    }

    /// A VAPID token for one push service (its origin is the token's audience).
    public struct VAPIDToken: Sendable, Equatable {
        public var value: String
        public var issuedAt: Millis

        public func isFresh(now: Millis) -> Bool { now - issuedAt < WebPushVendor.tokenReuse && now >= issuedAt }
    }

    private struct Claims: Encodable {
        var aud: String
        var exp: Int64
        var sub: String
    }

    /// The push service's origin (`https://host[:port]`): the audience of its VAPID tokens, and the key of their cache.
    public static func audience(of endpoint: String) -> String? {
        guard let url = URL(string: endpoint), let scheme = url.scheme, let host = url.host else { return nil }
        return "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
    }

    public func vapidToken(audience: String, now: Millis) throws -> VAPIDToken {
        VAPIDToken(
            value: try CompactJWT.es256(
                claims: Claims(aud: audience, exp: (now + Self.tokenLifetime) / 1000, sub: vapid.subject),
                key: vapid.key),
            issuedAt: now)
    }

    /// The encrypted request. The payload is the content's JSON, which the app's service worker reads.
    public func request(_ content: PushContent, to target: PushTarget, token: VAPIDToken) throws -> VendorRequest {
        guard let p256dh = target.p256dh, let auth = target.auth else {
            throw PushOutcomeError(.targetGone(reason: "the subscription has no keys"))
        }
        let payload = try ChatJSON.encoder().encode(content)
        let body = try WebPushEncryption.encrypt(payload, p256dh: p256dh, auth: auth)
        return VendorRequest(
            url: target.token,
            headers: [
                "authorization": "vapid t=\(token.value), k=\(vapid.publicKey)",
                "content-encoding": "aes128gcm",
                "content-type": "application/octet-stream",
                "ttl": "\(ttlSeconds)",
                "urgency": "high",
                // A newer message with the same topic replaces one the service still holds for an offline browser.
                "topic": content.collapseKey,
            ],
            body: body)
    }

    public func outcome(of response: VendorResponse, now: Millis) -> PushOutcome {
        let reason = "HTTP \(response.status)"
            + (response.body.isEmpty ? "" : ": " + String(decoding: response.body.prefix(200), as: UTF8.self))
        switch response.status {
        case 200..<300: return .delivered
        case 404, 410: return .targetGone(reason: reason)
        // 401: the VAPID token itself was refused (a malformed key, a clock far off): every subscription there fails.
        case 401: return .credentialsRejected(reason: reason)
        // 403: Apple's service says so of a bad VAPID token too ({"reason":"BadJwtToken"}); Google's and Mozilla's
        // mean the subscription was made with another server key, and it never works with this one.
        case 403: return reason.contains("Jwt") ? .credentialsRejected(reason: reason) : .targetGone(reason: reason)
        case 429, 500...: return .retry(afterSeconds: response.retryAfter(now: now), reason: reason)
        default: return .rejected(reason: reason)
        }
    }
}
