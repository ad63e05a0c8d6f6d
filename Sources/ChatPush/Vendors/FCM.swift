import ChatCore
import Foundation

/// Firebase Cloud Messaging, HTTP v1: an OAuth2 access token from a JWT grant signed with the service account's key
/// (RFC 7523), then `POST /v1/projects/<project>/messages:send` per target with that token as bearer.
public struct FCMVendor: Sendable {
    public var account: FCMServiceAccount
    public var baseURL: String
    public var tokenURL: String
    public var ttlSeconds: Int

    public static let scope = "https://www.googleapis.com/auth/firebase.messaging"

    public init(account: FCMServiceAccount, baseURL: String, tokenURL: String = "", ttlSeconds: Int) {
        self.account = account
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.tokenURL = tokenURL.isEmpty ? account.tokenURI : tokenURL
        self.ttlSeconds = ttlSeconds
    }

    /// An access token and when it stops working.
    public struct AccessToken: Sendable, Equatable {
        public var value: String
        public var expiresAt: Millis

        /// Fresh until five minutes before it expires, so a send never carries one that expires on the way.
        public func isFresh(now: Millis) -> Bool { now < expiresAt - 300_000 }
    }

    private struct GrantClaims: Encodable {
        var iss: String
        var scope: String
        var aud: String
        var iat: Int64
        var exp: Int64
    }

    /// The token request: the JWT grant, signed RS256 by the service account, valid for an hour.
    public func tokenRequest(now: Millis) throws -> VendorRequest {
        let issuedAt = now / 1000
        let assertion = try CompactJWT.rs256(
            keyId: account.privateKeyId.isEmpty ? nil : account.privateKeyId,
            claims: GrantClaims(
                iss: account.clientEmail, scope: Self.scope, aud: tokenURL, iat: issuedAt, exp: issuedAt + 3600),
            key: account.key)
        let form = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=\(assertion)"
        return VendorRequest(
            url: tokenURL, headers: ["content-type": "application/x-www-form-urlencoded"], body: Data(form.utf8))
    }

    private struct TokenAnswer: Decodable {
        var access_token: String?
        var expires_in: Int64?
        var error: String?
        var error_description: String?
    }

    /// The token from the token endpoint's answer, or the outcome every send waiting for it gets.
    public func accessToken(from response: VendorResponse, now: Millis) -> Result<AccessToken, PushOutcomeError> {
        let answer = try? JSONDecoder().decode(TokenAnswer.self, from: response.body)
        if response.status == 200, let token = answer?.access_token, !token.isEmpty {
            return .success(AccessToken(value: token, expiresAt: now + (answer?.expires_in ?? 3600) * 1000))
        }
        let reason = [answer?.error, answer?.error_description].compactMap { $0 }.joined(separator: ": ")
        let said = "the OAuth token endpoint answered \(response.status)" + (reason.isEmpty ? "" : " (\(reason))")
        if response.status == 429 || response.status >= 500 {
            return .failure(PushOutcomeError(.retry(afterSeconds: response.retryAfter(now: now), reason: said)))
        }
        // 400 invalid_grant (a deleted or disabled key, a clock far off), 401 invalid_client: the credentials.
        return .failure(PushOutcomeError(.credentialsRejected(reason: said)))
    }

    private struct Send: Encodable {
        struct Message: Encodable {
            struct Alert: Encodable {
                var title: String
                var body: String
            }
            struct Android: Encodable {
                struct Notification: Encodable {
                    var tag: String
                    var notification_count: Int
                }
                var collapse_key: String
                var priority = "high"
                var ttl: String
                var notification: Notification
            }
            struct APNs: Encodable {
                struct Payload: Encodable {
                    struct APS: Encodable {
                        var badge: Int
                        var thread_id: String
                        enum CodingKeys: String, CodingKey {
                            case badge
                            case thread_id = "thread-id"
                        }
                    }
                    var aps: APS
                }
                var headers: [String: String]
                var payload: Payload
            }
            var token: String
            var notification: Alert
            var data: [String: String]
            var android: Android
            var apns: APNs
        }
        var message: Message
    }

    /// One notification to one registration token.
    public func sendRequest(_ content: PushContent, to target: PushTarget, accessToken: String) throws -> VendorRequest {
        let message = Send.Message(
            token: target.token, notification: .init(title: content.title, body: content.body),
            data: content.stringFields,
            android: .init(
                collapse_key: content.collapseKey, ttl: "\(ttlSeconds)s",
                notification: .init(tag: content.collapseKey, notification_count: content.badge)),
            apns: .init(
                headers: ["apns-collapse-id": content.collapseKey, "apns-priority": "10"],
                payload: .init(aps: .init(badge: content.badge, thread_id: content.collapseKey))))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return VendorRequest(
            url: "\(baseURL)/v1/projects/\(account.projectId)/messages:send",
            headers: ["authorization": "Bearer \(accessToken)", "content-type": "application/json; charset=UTF-8"],
            body: try encoder.encode(Send(message: message)))
    }

    private struct ErrorAnswer: Decodable {
        struct Body: Decodable {
            struct Detail: Decodable {
                var errorCode: String?
            }
            var status: String?
            var message: String?
            var details: [Detail]?
        }
        var error: Body?
    }

    /// What a `messages:send` answer means (FCM's `ErrorCode` and the HTTP status).
    public func outcome(of response: VendorResponse, now: Millis) -> PushOutcome {
        if (200..<300).contains(response.status) { return .delivered }
        let answer = (try? JSONDecoder().decode(ErrorAnswer.self, from: response.body))?.error
        let code = answer?.details?.compactMap(\.errorCode).first ?? answer?.status ?? "HTTP \(response.status)"
        let reason = code + (answer?.message.map { ": \($0)" } ?? "")
        switch (response.status, code) {
        case (_, "UNREGISTERED"), (_, "SENDER_ID_MISMATCH"):
            return .targetGone(reason: reason)
        case (400, "INVALID_ARGUMENT") where (answer?.message ?? "").localizedCaseInsensitiveContains("registration token"):
            return .targetGone(reason: reason)
        case (_, "THIRD_PARTY_AUTH_ERROR"):
            // The APNs or Web Push credentials of the app's Firebase project, for this kind of token only.
            return .rejected(reason: reason)
        case (401, _), (403, _):
            return .credentialsRejected(reason: reason)
        case (429, _), (500..., _):
            return .retry(afterSeconds: response.retryAfter(now: now), reason: reason)
        default:
            return .rejected(reason: reason)
        }
    }
}

/// An outcome that ends an exchange early (a token that could not be had), thrown to the sender.
public struct PushOutcomeError: Error, Sendable, Equatable {
    public var outcome: PushOutcome
    public init(_ outcome: PushOutcome) { self.outcome = outcome }
}
