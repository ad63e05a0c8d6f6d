import AsyncHTTPClient
import ChatAdmin
import ChatCore
import ChatPush
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle
import Synchronization

/// Sends notifications to the vendors: performs the requests `ChatPush`'s vendors build, over one HTTP client
/// (HTTP/2 where the vendor offers it, as APNs requires), with each vendor's token cached until near its end, and
/// keeps each vendor's `ProviderHealth`. Every attempt returns what became of it; it never throws. As a service it
/// lives until shutdown, then closes its connections (after the job runner, which stops first).
final class PushSender: Service, Sendable {
    struct Vendors: Sendable {
        var fcm: FCMVendor?
        var apns: APNsVendor?
        var webPush: WebPushVendor?
    }

    /// One attempt: its outcome and the vendor's answer as text ("" when nothing was sent).
    struct Attempt: Sendable {
        var outcome: PushOutcome
        var answer: String
    }

    let vendors: Vendors
    let clock: @Sendable () -> Millis
    let logger: Logger
    /// The client's configuration; the client is made on the first send (a server without push has none) and shut
    /// down with the daemon (`PushService`).
    private let clientConfiguration: HTTPClient.Configuration
    private let client = Mutex<HTTPClient?>(nil)
    /// Called after each attempt (metrics).
    private let observer = ObserverSlot<(PushPlatform, PushOutcome, Duration)>()
    private let health: Mutex<PushHealth>
    private let counts = Mutex<[PushPlatform: (sent: Int, failed: Int)]>([:])
    private let fcmToken = Mutex<FCMVendor.AccessToken?>(nil)
    /// One token request at a time: sends that need a token while one is on its way wait for it.
    private let fcmTokenRequest = Mutex<Task<FCMVendor.AccessToken, any Error>?>(nil)
    private let apnsToken = Mutex<APNsVendor.ProviderToken?>(nil)
    private let vapidTokens = Mutex<[String: WebPushVendor.VAPIDToken]>([:])
    /// A vendor's answer read this far; the rest is drained and dropped.
    static let answerBytes = 64 * 1024

    /// Reads the credentials the configuration names; a vendor whose credentials cannot be used is failing from the
    /// start (with the reason), so `chatctl status` says so and its targets get nothing.
    init(config: PushConfiguration, clock: @escaping @Sendable () -> Millis = Clock.nowMillis, logger: Logger) {
        let credentials = PushCredentials.load(config)
        var vendors = Vendors()
        var health: [PushPlatform: ProviderHealth] = [:]
        let now = clock()
        let ttl = config.ttlSeconds
        switch credentials.fcm {
        case .success(let account)?:
            vendors.fcm = FCMVendor(account: account, baseURL: config.fcm.url, tokenURL: config.fcm.tokenURL, ttlSeconds: ttl)
            health[.fcm] = ProviderHealth()
        case .failure(let error)?:
            health[.fcm] = .unusable(error.description, now: now)
        case nil: break
        }
        switch credentials.apns {
        case .success(let key)?:
            vendors.apns = APNsVendor(
                key: key, productionURL: config.apns.url, sandboxURL: config.apns.sandboxURL, ttlSeconds: ttl)
            health[.apns] = ProviderHealth()
        case .failure(let error)?:
            health[.apns] = .unusable(error.description, now: now)
        case nil: break
        }
        switch credentials.webPush {
        case .success(let key)?:
            vendors.webPush = WebPushVendor(vapid: key, ttlSeconds: ttl)
            health[.webpush] = ProviderHealth()
        case .failure(let error)?:
            health[.webpush] = .unusable(error.description, now: now)
        case nil: break
        }
        for (platform, state) in health {
            if case .failing(let reason, _) = state.state {
                logger.error("push credentials cannot be used", metadata: ["provider": "\(platform)", "error": "\(reason)"])
            }
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        if !config.caFile.isEmpty { tls.additionalTrustRoots = [.file(config.caFile)] }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, timeout: .init(connect: .seconds(10), read: .seconds(10)))
        configuration.httpVersion = .automatic
        configuration.connectionPool = .init(idleTimeout: .seconds(60))
        clientConfiguration = configuration
        self.vendors = vendors
        self.health = Mutex(PushHealth(platforms: health))
        self.clock = clock
        self.logger = logger
    }

    /// Sets what hears of each attempt's platform, outcome and duration.
    func observe(_ body: @escaping @Sendable (PushPlatform, PushOutcome, Duration) -> Void) {
        observer.set { body($0.0, $0.1, $0.2) }
    }

    /// The platforms devices may register targets for: those configured, whether or not they work right now.
    var platforms: Set<PushPlatform> {
        health.withLock { Set($0.platforms.keys) }
    }

    /// The VAPID public key browsers subscribe with, when Web Push is on.
    var vapidPublicKey: String? { vendors.webPush?.vapid.publicKey }

    func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    func shutdown() async {
        let client = client.withLock { client in
            defer { client = nil }
            return client
        }
        try? await client?.shutdown()
    }

    private var httpClient: HTTPClient {
        client.withLock { client in
            if let client { return client }
            let made = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
            client = made
            return made
        }
    }

    /// Each platform's state for `chatctl status`, and each Web Push service that is failing.
    func report() -> [PushProviderReport] {
        let health = health.withLock { $0 }
        let counts = counts.withLock { $0 }
        func report(_ name: String, _ state: ProviderHealth.State?, sent: Int, failed: Int) -> PushProviderReport {
            switch state {
            case nil: PushProviderReport(platform: name, state: "off")
            case .unknown?: PushProviderReport(platform: name, state: "unknown", sent: sent, failed: failed)
            case .healthy(let since)?: PushProviderReport(platform: name, state: "ok", since: since, sent: sent, failed: failed)
            case .failing(let reason, let since)?:
                PushProviderReport(platform: name, state: "failing", reason: reason, since: since, sent: sent, failed: failed)
            }
        }
        let platforms = PushPlatform.allCases.map { platform in
            report(
                platform.rawValue, health.platforms[platform]?.state, sent: counts[platform]?.sent ?? 0,
                failed: counts[platform]?.failed ?? 0)
        }
        let services = health.services.filter(\.value.isFailing).sorted { $0.key < $1.key }.map {
            report("webpush \($0.key)", $0.value.state, sent: 0, failed: 0)
        }
        return platforms + services
    }

    /// One notification to one target.
    func send(_ content: PushContent, to target: PushTarget) async -> Attempt {
        let started = ContinuousClock.now
        let admission = health.withLock { $0.admit(target, now: clock()) }
        let attempt: Attempt
        switch admission {
        case .notConfigured:
            attempt = Attempt(outcome: .providerUnavailable(reason: "\(target.platform.rawValue) is not configured"), answer: "")
        case .failing(let reason):
            attempt = Attempt(
                outcome: .providerUnavailable(reason: "\(PushHealth.vendor(of: target)) is failing: \(reason)"), answer: "")
        case .admitted:
            attempt = await exchange(content, to: target)
            health.withLock { $0.record(attempt.outcome, for: target, now: clock()) }
        }
        counts.withLock { counts in
            if attempt.outcome == .delivered {
                counts[target.platform, default: (0, 0)].sent += 1
            } else {
                counts[target.platform, default: (0, 0)].failed += 1
            }
        }
        if case .credentialsRejected(let reason) = attempt.outcome {
            logger.error("a push vendor refused chatd's credentials", metadata: [
                "provider": "\(PushHealth.vendor(of: target))", "error": "\(reason)",
            ])
        }
        observer((target.platform, attempt.outcome, ContinuousClock.now - started))
        return attempt
    }

    /// An exchange with the vendor. A request that cannot be made (a key that does not sign, a payload too large to
    /// encrypt) is rejected for good; a vendor that cannot be reached is retried (`perform`).
    private func exchange(_ content: PushContent, to target: PushTarget) async -> Attempt {
        do {
            switch target.platform {
            case .fcm:
                guard let fcm = vendors.fcm else { throw PushOutcomeError(.providerUnavailable(reason: "fcm is off")) }
                let (attempt, token) = try await sendFCM(fcm, content, to: target, refused: nil)
                guard case .credentialsRejected = attempt.outcome else { return attempt }
                // A token revoked before its time: one more try with a new one tells that from bad credentials.
                return try await sendFCM(fcm, content, to: target, refused: token).attempt
            case .apns:
                guard let apns = vendors.apns else { throw PushOutcomeError(.providerUnavailable(reason: "apns is off")) }
                let (attempt, token) = try await sendAPNs(apns, content, to: target, refused: nil)
                guard case .credentialsRejected(let reason) = attempt.outcome, reason == "ExpiredProviderToken" else {
                    return attempt
                }
                return try await sendAPNs(apns, content, to: target, refused: token).attempt
            case .webpush:
                guard let webPush = vendors.webPush else {
                    throw PushOutcomeError(.providerUnavailable(reason: "webpush is off"))
                }
                guard let audience = WebPushVendor.audience(of: target.token) else {
                    throw PushOutcomeError(.targetGone(reason: "the endpoint is not a URL"))
                }
                let now = clock()
                let token = try vapidTokens.withLock { tokens in
                    if let token = tokens[audience], token.isFresh(now: now) { return token }
                    let token = try webPush.vapidToken(audience: audience, now: now)
                    tokens[audience] = token
                    return token
                }
                let response = try await perform(try webPush.request(content, to: target, token: token))
                return Attempt(outcome: webPush.outcome(of: response, now: clock()), answer: response.summary)
            }
        } catch let error as PushOutcomeError {
            return Attempt(outcome: error.outcome, answer: "")
        } catch {
            return Attempt(outcome: .rejected(reason: "the request could not be made: \(error)"), answer: "")
        }
    }

    /// One send with the current access token, or a new one when `refused` is the one the vendor just refused (a
    /// token another send renewed meanwhile is used as it is). Returns the token it used.
    private func sendFCM(_ fcm: FCMVendor, _ content: PushContent, to target: PushTarget, refused: String?)
        async throws -> (attempt: Attempt, token: String)
    {
        if let refused { fcmToken.withLock { if $0?.value == refused { $0 = nil } } }
        let token = try await fcmAccessToken(fcm)
        let response = try await perform(try fcm.sendRequest(content, to: target, accessToken: token.value))
        return (Attempt(outcome: fcm.outcome(of: response, now: clock()), answer: response.summary), token.value)
    }

    /// The cached access token, or a new one: one grant at a time, shared by every send waiting for it.
    private func fcmAccessToken(_ fcm: FCMVendor) async throws -> FCMVendor.AccessToken {
        if let token = fcmToken.withLock({ $0 }), token.isFresh(now: clock()) { return token }
        let task = fcmTokenRequest.withLock { pending in
            if let pending { return pending }
            let task = Task { [self] in
                defer { fcmTokenRequest.withLock { $0 = nil } }
                let response = try await perform(try fcm.tokenRequest(now: clock()))
                let token = try fcm.accessToken(from: response, now: clock()).get()
                fcmToken.withLock { $0 = token }
                return token
            }
            pending = task
            return task
        }
        return try await task.value
    }

    /// One send with the cached provider token, or a new one when `refused` is the one Apple just called expired.
    private func sendAPNs(_ apns: APNsVendor, _ content: PushContent, to target: PushTarget, refused: String?)
        async throws -> (attempt: Attempt, token: String)
    {
        let now = clock()
        let token = try apnsToken.withLock { cached in
            if let cached, cached.isFresh(now: now), cached.value != refused { return cached }
            let token = try apns.providerToken(now: now)
            cached = token
            return token
        }
        let response = try await perform(try apns.request(content, to: target, token: token, now: now))
        return (Attempt(outcome: apns.outcome(of: response, now: clock()), answer: response.summary), token.value)
    }

    /// Sends a request; a vendor that cannot be reached (refused, timed out, reset) is an outcome to retry.
    private func perform(_ request: VendorRequest) async throws(PushOutcomeError) -> VendorResponse {
        var http = HTTPClientRequest(url: request.url)
        http.method = .POST
        for (name, value) in request.headers { http.headers.add(name: name, value: value) }
        http.body = .bytes(ByteBuffer(bytes: request.body))
        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(http, timeout: .seconds(10))
        } catch {
            throw PushOutcomeError(.retry(afterSeconds: nil, reason: "\(error)"))
        }
        // The status is the answer; the body only explains it. A body cut off or too long is read as far as it goes.
        var body = Data()
        do {
            for try await chunk in response.body where body.count < Self.answerBytes {
                body.append(contentsOf: chunk.readableBytesView.prefix(Self.answerBytes - body.count))
            }
        } catch {}
        return VendorResponse(
            status: Int(response.status.code),
            headers: Dictionary(response.headers.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first }),
            body: body)
    }
}
