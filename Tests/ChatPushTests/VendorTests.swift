import ChatCore
import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import ChatPush

/// Each vendor's request as the vendor documents it, and each answer read into what chatd does next.
@Suite struct VendorTests {
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    static func serviceAccount(type: String = "service_account", key: String = rsa.pkcs8PEMRepresentation) -> Data {
        let json: [String: String] = [
            "type": type, "project_id": "chat-app", "private_key_id": "k1", "private_key": key,
            "client_email": "push@chat-app.iam.gserviceaccount.com", "token_uri": "https://oauth2.example/token",
        ]
        return try! JSONSerialization.data(withJSONObject: json)
    }

    static let content = PushContent(
        kind: .message, conversationId: 7, messageId: 70, seq: 3, senderId: 1, senderName: "Ann", title: "Ann",
        body: "hi", badge: 4, collapseKey: "c7")

    static func json(_ data: Data) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    @Test func fcmGrantAndSend() throws {
        let fcm = FCMVendor(
            account: try FCMServiceAccount(json: Self.serviceAccount()), baseURL: "https://fcm.example/", ttlSeconds: 60)
        let grant = try fcm.tokenRequest(now: 1_700_000_000_000)
        #expect(grant.url == "https://oauth2.example/token")
        let form = String(decoding: grant.body, as: UTF8.self)
        #expect(form.hasPrefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="))
        let assertion = CompactJWTTests.parts(String(form.split(separator: "=").last!))
        #expect(assertion.claims["scope"] as? String == FCMVendor.scope)
        #expect(assertion.claims["aud"] as? String == "https://oauth2.example/token")
        #expect(assertion.claims["exp"] as? Int == 1_700_003_600)

        let token = try fcm.accessToken(
            from: VendorResponse(status: 200, body: Data(#"{"access_token":"ya29.x","expires_in":3599}"#.utf8)),
            now: 1_000_000
        ).get()
        #expect(token == FCMVendor.AccessToken(value: "ya29.x", expiresAt: 1_000_000 + 3_599_000))
        #expect(token.isFresh(now: 1_000_000) && !token.isFresh(now: 1_000_000 + 3_400_000))
        #expect(
            throws: PushOutcomeError(.credentialsRejected(reason: "the OAuth token endpoint answered 400 (invalid_grant: Invalid JWT Signature.)"))
        ) {
            try fcm.accessToken(
                from: VendorResponse(
                    status: 400, body: Data(#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#.utf8)),
                now: 0
            ).get()
        }

        let target = PushTarget(id: 1, userId: 2, sessionId: 3, platform: .fcm, token: "tok-1", createdAt: 0)
        let send = try fcm.sendRequest(Self.content, to: target, accessToken: "ya29.x")
        #expect(send.url == "https://fcm.example/v1/projects/chat-app/messages:send")
        #expect(send.headers["authorization"] == "Bearer ya29.x")
        let message = try #require(Self.json(send.body)["message"] as? [String: Any])
        #expect(message["token"] as? String == "tok-1")
        #expect((message["data"] as? [String: String])?["conversation_id"] == "7")
        #expect((message["android"] as? [String: Any])?["collapse_key"] as? String == "c7")
    }

    @Test func fcmAnswers() {
        let fcm = FCMVendor(account: try! FCMServiceAccount(json: Self.serviceAccount()), baseURL: "https://f", ttlSeconds: 1)
        func answer(_ status: Int, _ body: String, _ headers: [String: String] = [:]) -> PushOutcome {
            fcm.outcome(of: VendorResponse(status: status, headers: headers, body: Data(body.utf8)), now: 0)
        }
        #expect(answer(200, #"{"name":"projects/p/messages/1"}"#) == .delivered)
        let unregistered = #"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#
        #expect(answer(404, unregistered) == .targetGone(reason: "UNREGISTERED: Requested entity was not found."))
        #expect(answer(400, #"{"error":{"status":"INVALID_ARGUMENT","message":"The registration token is not a valid FCM registration token"}}"#).metricReason == "target_gone")
        #expect(answer(400, #"{"error":{"status":"INVALID_ARGUMENT","message":"Invalid JSON payload"}}"#).metricReason == "rejected")
        #expect(answer(401, #"{"error":{"status":"UNAUTHENTICATED"}}"#) == .credentialsRejected(reason: "UNAUTHENTICATED"))
        #expect(answer(401, #"{"error":{"status":"UNAUTHENTICATED","details":[{"errorCode":"THIRD_PARTY_AUTH_ERROR"}]}}"#).metricReason == "rejected",
            "an iOS or web token's own credentials, not the service account")
        #expect(answer(429, "", ["Retry-After": "30"]) == .retry(afterSeconds: 30, reason: "HTTP 429"))
        #expect(answer(503, #"{"error":{"status":"UNAVAILABLE"}}"#) == .retry(afterSeconds: nil, reason: "UNAVAILABLE"))
    }

    @Test func apnsRequestAndAnswers() throws {
        let key = try APNsSigningKey(pem: P256.Signing.PrivateKey().pemRepresentation, keyId: "ABCDE12345", teamId: "TEAM123456")
        let apns = APNsVendor(key: key, productionURL: "https://apns.example", sandboxURL: "https://sandbox.example/", ttlSeconds: 3600)
        let token = try apns.providerToken(now: 1_700_000_000_000)
        #expect(token.isFresh(now: 1_700_000_000_000 + 49 * 60_000) && !token.isFresh(now: 1_700_000_000_000 + 51 * 60_000))
        let jwt = CompactJWTTests.parts(token.value)
        #expect(jwt.header["kid"] as? String == "ABCDE12345" && jwt.claims["iss"] as? String == "TEAM123456")
        #expect(jwt.claims["iat"] as? Int == 1_700_000_000)

        let device = String(repeating: "ab", count: 32)
        let target = PushTarget(
            id: 1, userId: 2, sessionId: nil, platform: .apns, token: device, topic: "com.example.chat", sandbox: true,
            createdAt: 0)
        let request = try apns.request(Self.content, to: target, token: token, now: 1_700_000_000_000)
        #expect(request.url == "https://sandbox.example/3/device/\(device)")
        #expect(request.headers["apns-topic"] == "com.example.chat")
        #expect(request.headers["apns-push-type"] == "alert")
        #expect(request.headers["apns-collapse-id"] == "c7")
        #expect(request.headers["apns-expiration"] == "1700003600")
        let aps = try #require(Self.json(request.body)["aps"] as? [String: Any])
        #expect(aps["badge"] as? Int == 4 && aps["thread-id"] as? String == "c7")

        func answer(_ status: Int, _ reason: String) -> PushOutcome {
            apns.outcome(of: VendorResponse(status: status, body: Data(#"{"reason":"\#(reason)"}"#.utf8)), now: 0)
        }
        #expect(apns.outcome(of: VendorResponse(status: 200), now: 0) == .delivered)
        #expect(answer(410, "Unregistered") == .targetGone(reason: "Unregistered"))
        #expect(answer(400, "BadDeviceToken") == .targetGone(reason: "BadDeviceToken"))
        #expect(answer(400, "PayloadTooLarge") == .rejected(reason: "PayloadTooLarge"))
        #expect(answer(403, "InvalidProviderToken") == .credentialsRejected(reason: "InvalidProviderToken"))
        #expect(answer(429, "TooManyRequests") == .retry(afterSeconds: nil, reason: "TooManyRequests"))
    }

    @Test func webPushAnswersAndRetryAfterDates() {
        let vapid = try! VAPIDKey(privateKey: VAPIDKey.generate().privateKey, subject: "mailto:ops@example.com")
        let webPush = WebPushVendor(vapid: vapid, ttlSeconds: 60)
        #expect(WebPushVendor.audience(of: "https://push.example:8443/send/abc") == "https://push.example:8443")
        #expect(WebPushVendor.audience(of: "https://fcm.googleapis.com/fcm/send/x") == "https://fcm.googleapis.com")
        #expect(webPush.outcome(of: VendorResponse(status: 201), now: 0) == .delivered)
        #expect(webPush.outcome(of: VendorResponse(status: 410), now: 0) == .targetGone(reason: "HTTP 410"))
        #expect(webPush.outcome(of: VendorResponse(status: 404), now: 0).metricReason == "target_gone")
        #expect(webPush.outcome(of: VendorResponse(status: 401), now: 0).metricReason == "credentials")
        let apple = VendorResponse(status: 403, body: Data(#"{"reason":"BadJwtToken"}"#.utf8))
        #expect(webPush.outcome(of: apple, now: 0).metricReason == "credentials", "Apple: the VAPID token")
        let google = VendorResponse(status: 403, body: Data("the key in the authorization header does not correspond".utf8))
        #expect(webPush.outcome(of: google, now: 0).metricReason == "target_gone", "subscribed with another key")
        #expect(webPush.outcome(of: VendorResponse(status: 413), now: 0).metricReason == "rejected")
        // An HTTP date 90 s after now.
        let now: Millis = 1_700_000_000_000
        let response = VendorResponse(status: 503, headers: ["Retry-After": "Tue, 14 Nov 2023 22:14:50 GMT"])
        #expect(response.retryAfter(now: now) == 90)
        #expect(webPush.outcome(of: response, now: now) == .retry(afterSeconds: 90, reason: "HTTP 503"))
        #expect(VendorResponse(status: 503, headers: ["retry-after": "soon"]).retryAfter(now: now) == nil)
    }

    @Test func credentialsSayWhatIsWrong() throws {
        #expect(throws: PushCredentialError("the service account file is not JSON")) {
            try FCMServiceAccount(json: Data("nope".utf8))
        }
        #expect(throws: PushCredentialError.self) { try FCMServiceAccount(json: Self.serviceAccount(type: "authorized_user")) }
        #expect(throws: PushCredentialError.self) {
            try FCMServiceAccount(json: Self.serviceAccount(key: P256.Signing.PrivateKey().pemRepresentation))
        }
        let pem = P256.Signing.PrivateKey().pemRepresentation
        #expect(throws: PushCredentialError.self) { try APNsSigningKey(pem: pem, keyId: "short", teamId: "TEAM123456") }
        #expect(throws: PushCredentialError.self) { try APNsSigningKey(pem: "garbage", keyId: "ABCDE12345", teamId: "TEAM123456") }
        #expect(throws: PushCredentialError.self) { try VAPIDKey(privateKey: "AAAA", subject: "mailto:a@b") }
        #expect(throws: PushCredentialError.self) { try VAPIDKey(privateKey: VAPIDKey.generate().privateKey, subject: "ops") }
        #expect(throws: PushCredentialError.self) {
            try VAPIDKey(privateKey: VAPIDKey.generate().privateKey, subject: "mailto:root@localhost")
        }
        let pair = VAPIDKey.generate()
        #expect(try VAPIDKey(privateKey: pair.privateKey, subject: "https://example.com").publicKey == pair.publicKey)
    }
}
