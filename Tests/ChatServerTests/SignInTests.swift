import ChatCore
import Crypto
import Foundation
import Hummingbird
import JWTKit
import Logging
import Synchronization
import Testing

@testable import ChatServer

/// The other ways in: one-time codes through the app's webhook, tokens minted by the app's backend, the server API.
@Suite struct SignInTests {
    /// Stands in for the app's own SMS / e-mail sender: records every code chatd asks it to deliver.
    final class CodeInbox: Sendable {
        let deliveries = Mutex<[(destination: String, code: String)]>([])

        func lastCode(for destination: String) -> String? {
            deliveries.withLock { $0.last { $0.destination == destination }?.code }
        }
    }

    func withWebhook<T: Sendable>(_ body: @Sendable (_ url: String, _ inbox: CodeInbox) async throws -> T) async throws -> T {
        let inbox = CodeInbox()
        let router = Router()
        router.post("/deliver") { request, context -> HTTPResponse.Status in
            let delivery = try await request.decode(as: Delivery.self, context: context)
            inbox.deliveries.withLock { $0.append((delivery.destination, delivery.code)) }
            return .noContent
        }
        let port = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "webhook")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { port.continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.runService(gracefulShutdownSignals: [])
                return nil
            }
            var ports = port.stream.makeAsyncIterator()
            let bound = await ports.next() ?? 0
            let result = try await body("http://127.0.0.1:\(bound)/deliver", inbox)
            group.cancelAll()
            return result
        }
    }

    struct Delivery: Decodable {
        var destination: String
        var code: String
        var channel: String
        var expires_in: Int
    }

    @Test func oneTimeCodesSignInAndLimitAttempts() async throws {
        try await withWebhook { url, inbox in
            let config = testConfig {
                $0.otp.webhookURL = url
                $0.otp.maxAttempts = 3
                $0.otp.requestsPerHour = 3
            }
            try await withServer(config) { api in
                let requested = try await api.call(
                    .post, "/v1/auth/otp/request", json: ["channel": "sms", "destination": "+1 415 555 0123"])
                #expect(requested.status == 202)
                #expect(requested["destination"].string == "+14155550123")
                let code = try #require(inbox.lastCode(for: "+14155550123"))
                #expect(code.count == 6)

                let verify = try await api.call(
                    .post, "/v1/auth/otp/verify", json: ["channel": "sms", "destination": "+14155550123", "code": code])
                #expect(verify.status == 200)
                let user = verify["user"]["id"].int
                #expect(try await api.call(.get, "/v1/me", token: verify["access_token"].string!).status == 200)
                // A code works once.
                let replay = try await api.call(
                    .post, "/v1/auth/otp/verify", json: ["channel": "sms", "destination": "+14155550123", "code": code])
                #expect(replay.errorCode == "invalid_code")

                // Three wrong attempts spend a code, even if the right one comes next.
                try await api.call(.post, "/v1/auth/otp/request", json: ["channel": "sms", "destination": "+14155550123"])
                let second = try #require(inbox.lastCode(for: "+14155550123"))
                let wrong = second == "000000" ? "111111" : "000000"
                var messages: [String] = []
                for _ in 0..<3 {
                    let reply = try await api.call(
                        .post, "/v1/auth/otp/verify",
                        json: ["channel": "sms", "destination": "+14155550123", "code": wrong])
                    #expect(reply.status == 400)
                    messages.append(reply["error"]["message"].string ?? "")
                }
                #expect(messages[0].contains("2 attempts left"))
                #expect(messages[2].contains("no attempts left"))
                let late = try await api.call(
                    .post, "/v1/auth/otp/verify", json: ["channel": "sms", "destination": "+14155550123", "code": second])
                #expect(late.errorCode == "invalid_code")

                // The same phone number signs in to the same user.
                try await api.call(.post, "/v1/auth/otp/request", json: ["channel": "sms", "destination": "+14155550123"])
                let third = try #require(inbox.lastCode(for: "+14155550123"))
                let again = try await api.call(
                    .post, "/v1/auth/otp/verify", json: ["channel": "sms", "destination": "+14155550123", "code": third])
                #expect(again["user"]["id"].int == user)

                // A destination gets a bounded number of codes per hour, whoever asks.
                var statuses: [Int] = []
                for _ in 0..<4 {
                    statuses.append(
                        try await api.call(
                            .post, "/v1/auth/otp/request", json: ["channel": "email", "destination": "ann@example.com"]
                        ).status)
                }
                #expect(statuses == [202, 202, 202, 429])

                let bad = try await api.call(.post, "/v1/auth/otp/request", json: ["channel": "sms", "destination": "12"])
                #expect(bad.status == 400)
                let badChannel = try await api.call(.post, "/v1/auth/otp/request", json: ["channel": "fax", "destination": "12"])
                #expect(badChannel.status == 400)
            }
        }
    }

    @Test func codesAreRefusedWhenNoDeliveryIsConfigured() async throws {
        try await withServer(testConfig { $0.isDevelopmentDefault = false }) { api in
            let reply = try await api.call(
                .post, "/v1/auth/otp/request", json: ["channel": "email", "destination": "a@example.com"])
            #expect(reply.status == 503)
        }
    }

    struct AppClaims: JWTPayload {
        var sub: SubjectClaim
        var iss: IssuerClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var preferred_username: String?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    func claims(sub: String, aud: String = "chat", iss: String = "https://app.example", expiresIn: Double = 600)
        -> AppClaims
    {
        AppClaims(
            sub: SubjectClaim(value: sub), iss: IssuerClaim(value: iss), aud: AudienceClaim(value: [aud]),
            exp: ExpirationClaim(value: Date().addingTimeInterval(expiresIn)), preferred_username: "app_\(sub)")
    }

    @Test func tokensFromTheAppsBackendWithHS256() async throws {
        let secret = "the-apps-own-shared-secret-0123456789"
        let config = testConfig {
            $0.external = .init(issuer: "https://app.example", audience: "chat", algorithm: "HS256", secret: secret)
        }
        try await withServer(config) { api in
            let keys = JWTKeyCollection()
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            let token = try await keys.sign(claims(sub: "42"))
            let me = try await api.call(.get, "/v1/me", token: token)
            #expect(me.status == 200)
            #expect(me["user"]["handle"].string == "app_42")
            let again = try await api.call(.get, "/v1/me", token: try await keys.sign(claims(sub: "42")))
            #expect(again["user"]["id"].int == me["user"]["id"].int, "the same subject is the same user")

            #expect(try await api.call(.get, "/v1/me", token: try await keys.sign(claims(sub: "1", aud: "other"))).status == 401)
            let expired = try await api.call(.get, "/v1/me", token: try await keys.sign(claims(sub: "1", expiresIn: -60)))
            #expect(expired.errorCode == "token_expired")
            // An HS512 token with the same secret is not on the allow-list.
            let payload = try JSONEncoder().encode(claims(sub: "7")).base64URLEncoded()
            let signingInput = Data(#"{"alg":"HS512","typ":"JWT"}"#.utf8).base64URLEncoded() + "." + payload
            let signature = HMAC<SHA512>.authenticationCode(
                for: Data(signingInput.utf8), using: SymmetricKey(data: Data(secret.utf8)))
            let hs512 = signingInput + "." + Data(signature).base64URLEncoded()
            #expect(try await api.call(.get, "/v1/me", token: hs512).status == 401)
        }
    }

    @Test func tokensFromTheAppsBackendWithES256() async throws {
        let privateKey = P256.Signing.PrivateKey()
        let keyFile = temporaryDirectory().appendingPathComponent("app.pem")
        try privateKey.publicKey.pemRepresentation.write(to: keyFile, atomically: true, encoding: .utf8)
        let config = testConfig {
            $0.external = .init(
                issuer: "https://app.example", audience: "chat", algorithm: "ES256", publicKeyFile: keyFile.path)
        }
        try await withServer(config) { api in
            let keys = JWTKeyCollection()
            await keys.add(ecdsa: try ES256PrivateKey(pem: privateKey.pemRepresentation))
            #expect(try await api.call(.get, "/v1/me", token: try await keys.sign(claims(sub: "u-1"))).status == 200)
            let stranger = JWTKeyCollection()
            await stranger.add(ecdsa: ES256PrivateKey())
            #expect(try await api.call(.get, "/v1/me", token: try await stranger.sign(claims(sub: "u-1"))).status == 401)
        }
    }

    @Test func serverAPICreatesUsersAndMintsTokens() async throws {
        let key = "server-api-key-0123456789abcdef"
        try await withServer(testConfig { $0.auth.apiKey = key }) { api in
            let noKey = try await api.call(.post, "/v1/server/users", json: ["handle": "dana"])
            #expect(noKey.status == 401)
            let wrong = try await api.call(
                .post, "/v1/server/users", json: ["handle": "dana"], headers: [.init("X-Api-Key")!: "nope"])
            #expect(wrong.status == 401)
            let created = try await api.call(
                .post, "/v1/server/users", json: ["handle": "dana", "display_name": "Dana"],
                headers: [.init("X-Api-Key")!: key])
            #expect(created.status == 201)
            let id = created["user"]["id"].int!
            let tokens = try await api.call(.post, "/v1/server/users/\(id)/tokens", headers: [.init("X-Api-Key")!: key])
            #expect(tokens.status == 201)
            let me = try await api.call(.get, "/v1/me", token: tokens["access_token"].string!)
            #expect(me["user"]["display_name"].string == "Dana")
            let missing = try await api.call(.post, "/v1/server/users/9999/tokens", headers: [.init("X-Api-Key")!: key])
            #expect(missing.status == 404)
        }
        try await withServer { api in
            let disabled = try await api.call(.post, "/v1/server/users", json: ["handle": "dana"])
            #expect(disabled.status == 403)
        }
    }
}
