import ChatCore
import ChatLoopback
import ChatPush
import Crypto
import Foundation
import Synchronization
import _CryptoExtras

/// Stand-ins for Google, Apple and a browser's push service that check what the real ones check — the OAuth
/// grant's RS256 signature and the bearer token (FCM), the ES256 provider token and the headers over HTTP/2
/// (APNs), the VAPID signature and the payload's encryption (Web Push) — record what they accepted, and answer
/// with what a test scripts first (a 503, a 410, a 401), then with success.
final class PushVendorStandIn: Sendable {
    enum Kind: Sendable { case fcm, apns, webPush }

    /// A notification the vendor accepted: to whom (the FCM token, APNs device token or subscription path) and
    /// what (FCM's `message`, APNs' payload, or the decrypted Web Push JSON).
    struct Accepted: Sendable {
        var to: String
        var payload: JSON
        var headers: [String: String]
    }

    let kind: Kind
    let server: LoopbackHTTPSServer
    /// FCM: the service account's key; APNs: the `.p8` key.
    let rsaKey: _RSA.Signing.PrivateKey
    let apnsKey = P256.Signing.PrivateKey()
    private let state = Locked(State())

    struct State: Sendable {
        var accepted: [Accepted] = []
        var problems: [String] = []
        var scripted: [LoopbackHTTPSServer.Response] = []
        var issuedTokens: Set<String> = []
        var grants = 0
        /// Web Push: each subscription's private key and auth secret, by path.
        var subscriptions: [String: (P256.KeyAgreement.PrivateKey, Data)] = [:]
        var vapidPublicKey = ""
    }

    static let projectId = "chat-app"
    static let clientEmail = "push@chat-app.iam.gserviceaccount.com"
    static let keyId = "ABCDE12345"
    static let teamId = "TEAM123456"
    static let bundle = "com.example.chat"

    init(_ kind: Kind) async throws {
        self.kind = kind
        server = try await LoopbackHTTPSServer(http2Only: kind == .apns)
        rsaKey = VendorTestKeys.rsa
        let state = self.state
        let verify: @Sendable (LoopbackHTTPSServer.Request) -> LoopbackHTTPSServer.Response
        switch kind {
        case .fcm: verify = { [rsaKey, server] in Self.fcm($0, key: rsaKey.publicKey, tokenURL: server.origin + "/token", state: state) }
        case .apns: verify = { [apnsKey] in Self.apns($0, key: apnsKey.publicKey, state: state) }
        case .webPush: verify = { [server] in Self.webPush($0, origin: server.origin, state: state) }
        }
        server.answer { request in
            let verdict = verify(request)
            // A token grant is never scripted: scripts are about the sends.
            if request.path == "/token" { return verdict }
            return state.withLock { state in
                guard verdict.status < 300, !state.scripted.isEmpty else { return verdict }
                state.accepted.removeLast()
                return state.scripted.removeFirst()
            }
        }
    }

    var accepted: [Accepted] { state.withLock { $0.accepted } }
    /// What a real vendor would have refused: every test asserts there is none.
    var problems: [String] { state.withLock { $0.problems } }
    var grants: Int { state.withLock { $0.grants } }
    var sends: Int { server.received.filter { $0.path != "/token" }.count }

    /// The next answers to sends, in order, before the vendor goes back to accepting.
    func script(_ responses: LoopbackHTTPSServer.Response...) {
        state.withLock { $0.scripted += responses }
    }

    func stop() async { await server.stop() }

    // MARK: Configuration of chatd

    /// Points `[push]` at this vendor, trusting its certificate.
    func configure(_ push: inout PushConfiguration, folder: URL) throws {
        push.caFile = try server.writeCertificate(to: folder)
        switch kind {
        case .fcm:
            let file = folder.appendingPathComponent("service-account.json")
            let json: [String: String] = [
                "type": "service_account", "project_id": Self.projectId, "private_key_id": "key-1",
                "private_key": rsaKey.pkcs8PEMRepresentation, "client_email": Self.clientEmail,
                "token_uri": server.origin + "/token",
            ]
            try JSONSerialization.data(withJSONObject: json).write(to: file)
            push.fcm.serviceAccountFile = file.path
            push.fcm.url = server.origin
        case .apns:
            let file = folder.appendingPathComponent("AuthKey_\(Self.keyId).p8")
            try Data(apnsKey.pemRepresentation.utf8).write(to: file)
            push.apns.keyFile = file.path
            push.apns.keyId = Self.keyId
            push.apns.teamId = Self.teamId
            push.apns.url = server.origin + "/production"
            push.apns.sandboxURL = server.origin + "/sandbox"
        case .webPush:
            let pair = VAPIDKey.generate()
            state.withLock { $0.vapidPublicKey = pair.publicKey }
            push.webPush.vapidPrivateKey = pair.privateKey
            push.webPush.subject = "mailto:ops@example.com"
        }
    }

    /// Web Push: take the VAPID key `other` configured chatd with (a second push service for the same chatd).
    func acceptVAPID(of other: PushVendorStandIn) {
        let key = other.state.withLock { $0.vapidPublicKey }
        state.withLock { $0.vapidPublicKey = key }
    }

    /// Web Push: a new browser subscription at this push service, as the registration body chatd takes.
    func subscribe(_ name: String) -> [String: Any] {
        let key = P256.KeyAgreement.PrivateKey()
        let auth = Data((0..<16).map { _ in UInt8.random(in: 0...255) })
        state.withLock { $0.subscriptions["/push/\(name)"] = (key, auth) }
        return [
            "platform": "webpush", "endpoint": server.origin + "/push/\(name)",
            "keys": ["p256dh": key.publicKey.x963Representation.base64URLEncoded(), "auth": auth.base64URLEncoded()],
        ]
    }

    // MARK: What each vendor checks

    private static func problem(_ state: Locked<State>, _ text: String) -> LoopbackHTTPSServer.Response {
        state.withLock { $0.problems.append(text) }
        return .json(400, #"{"error":"\#(text)"}"#)
    }

    /// A JWT's header and claims, and whether `isValid` accepts its signature over the signing input.
    private static func jwt(_ token: String) -> (header: JSON, claims: JSON, input: Data, signature: Data)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let header = Data(base64URLEncoded: parts[0]), let claims = Data(base64URLEncoded: parts[1]),
            let signature = Data(base64URLEncoded: parts[2])
        else { return nil }
        return (JSON(data: header), JSON(data: claims), Data((parts[0] + "." + parts[1]).utf8), signature)
    }

    private static func fcm(
        _ request: LoopbackHTTPSServer.Request, key: _RSA.Signing.PublicKey, tokenURL: String, state: Locked<State>
    ) -> LoopbackHTTPSServer.Response {
        if request.path == "/token" {
            let form = Dictionary(
                String(decoding: request.body, as: UTF8.self).split(separator: "&").map {
                    let pair = $0.split(separator: "=", maxSplits: 1).map(String.init)
                    return (pair[0], (pair.count > 1 ? pair[1] : "").removingPercentEncoding ?? "")
                }, uniquingKeysWith: { $1 })
            guard form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer", let assertion = form["assertion"],
                let jwt = jwt(assertion)
            else { return problem(state, "not a JWT bearer grant") }
            guard jwt.header["alg"].string == "RS256",
                key.isValidSignature(
                    _RSA.Signing.RSASignature(rawRepresentation: jwt.signature), for: jwt.input, padding: .insecurePKCS1v1_5)
            else { return .json(400, #"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#) }
            let now = Int64(Date().timeIntervalSince1970)
            guard jwt.claims["iss"].string == clientEmail, jwt.claims["aud"].string == tokenURL,
                jwt.claims["scope"].string == FCMVendor.scope, let iat = jwt.claims["iat"].int, let exp = jwt.claims["exp"].int,
                abs(iat - now) < 300, exp - iat <= 3600
            else { return problem(state, "grant claims \(jwt.claims)") }
            let token = state.withLock { state in
                state.grants += 1
                let token = "ya29.test-\(state.grants)"
                state.issuedTokens.insert(token)
                return token
            }
            return .json(200, #"{"access_token":"\#(token)","expires_in":3599,"token_type":"Bearer"}"#)
        }
        guard request.path == "/v1/projects/\(projectId)/messages:send" else { return problem(state, "path \(request.path)") }
        let bearer = request.headers["authorization"]?.replacingOccurrences(of: "Bearer ", with: "") ?? ""
        guard state.withLock({ $0.issuedTokens.contains(bearer) }) else {
            return .json(401, #"{"error":{"code":401,"status":"UNAUTHENTICATED","message":"Request had invalid authentication credentials."}}"#)
        }
        let message = JSON(data: request.body)["message"]
        guard let token = message["token"].string, message["notification"]["title"].string != nil else {
            return problem(state, "message \(message)")
        }
        state.withLock { $0.accepted.append(Accepted(to: token, payload: message, headers: request.headers)) }
        return .json(200, #"{"name":"projects/\#(projectId)/messages/1"}"#)
    }

    private static func apns(
        _ request: LoopbackHTTPSServer.Request, key: P256.Signing.PublicKey, state: Locked<State>
    ) -> LoopbackHTTPSServer.Response {
        guard request.httpVersion == 2 else { return problem(state, "APNs takes HTTP/2 only") }
        let prefixes = ["/production/3/device/", "/sandbox/3/device/"]
        guard let prefix = prefixes.first(where: request.path.hasPrefix) else { return problem(state, "path \(request.path)") }
        let device = String(request.path.dropFirst(prefix.count))
        guard let authorization = request.headers["authorization"], authorization.hasPrefix("bearer "),
            let jwt = jwt(String(authorization.dropFirst(7)))
        else { return .json(403, #"{"reason":"MissingProviderToken"}"#) }
        guard jwt.header["alg"].string == "ES256", jwt.header["kid"].string == keyId,
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: jwt.signature),
            key.isValidSignature(signature, for: jwt.input), jwt.claims["iss"].string == teamId
        else { return .json(403, #"{"reason":"InvalidProviderToken"}"#) }
        guard let iat = jwt.claims["iat"].int, abs(iat - Int64(Date().timeIntervalSince1970)) < 3600 else {
            return .json(403, #"{"reason":"ExpiredProviderToken"}"#)
        }
        guard request.headers["apns-topic"] == bundle, request.headers["apns-push-type"] == "alert",
            request.headers["apns-collapse-id"] != nil, request.headers["apns-expiration"] != nil
        else { return problem(state, "headers \(request.headers)") }
        let payload = JSON(data: request.body)
        guard payload["aps"]["alert"]["title"].string != nil else { return problem(state, "payload \(payload)") }
        state.withLock { $0.accepted.append(Accepted(to: device, payload: payload, headers: request.headers)) }
        return LoopbackHTTPSServer.Response(status: 200, headers: ["apns-id": UUID().uuidString])
    }

    private static func webPush(_ request: LoopbackHTTPSServer.Request, origin: String, state: Locked<State>) -> LoopbackHTTPSServer.Response {
        guard let (key, auth) = state.withLock({ $0.subscriptions[request.path] }) else {
            return .json(404, "{}")
        }
        // Authorization: vapid t=<JWT>, k=<public key>
        let fields = Dictionary(
            (request.headers["authorization"] ?? "").replacingOccurrences(of: "vapid ", with: "")
                .split(separator: ",").map {
                    let pair = $0.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
                    return (pair[0], pair.count > 1 ? pair[1] : "")
                }, uniquingKeysWith: { $1 })
        guard let token = fields["t"], let jwt = jwt(token), let k = fields["k"], let raw = Data(base64URLEncoded: k),
            let vapidKey = try? P256.Signing.PublicKey(x963Representation: raw),
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: jwt.signature),
            vapidKey.isValidSignature(signature, for: jwt.input)
        else { return .json(401, #"{"reason":"the VAPID signature does not verify"}"#) }
        let now = Int64(Date().timeIntervalSince1970)
        guard k == state.withLock({ $0.vapidPublicKey }), jwt.claims["aud"].string == origin,
            let exp = jwt.claims["exp"].int, exp > now, exp <= now + 86_400,
            jwt.claims["sub"].string?.hasPrefix("mailto:") == true
        else { return problem(state, "VAPID claims \(jwt.claims) with k \(k)") }
        guard request.headers["content-encoding"] == "aes128gcm", request.headers["ttl"] != nil else {
            return problem(state, "headers \(request.headers)")
        }
        guard let plain = try? WebPushEncryption.decrypt(request.body, privateKey: key, auth: auth) else {
            return problem(state, "the payload does not decrypt with the subscription's key")
        }
        let payload = JSON(data: plain)
        guard request.headers["topic"] == payload["collapse_key"].string else { return problem(state, "topic") }
        state.withLock { $0.accepted.append(Accepted(to: request.path, payload: payload, headers: request.headers)) }
        return LoopbackHTTPSServer.Response(status: 201)
    }
}

enum VendorTestKeys {
    /// The service account's key: one per test process (generating an RSA key takes a core for up to a second).
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
}

/// A value behind a lock, in a class so closures can share it (a `Mutex` cannot be copied into them).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<T: Sendable>(_ body: (inout Value) throws -> T) rethrows -> T {
        try mutex.withLock { value in
            var copy = value
            defer { value = copy }
            return try body(&copy)
        }
    }
}
