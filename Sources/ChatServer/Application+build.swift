import ChatCore
import ChatRealtime
import ChatStore
import Crypto
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle

/// Builds the whole daemon from its configuration: the store, the auth services, the router, the maintenance
/// service. `onServerRunning` receives the bound port (useful with port 0).
public func buildApplication(
    config: ChatConfig, logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let services = try await makeServices(config: config, logger: logger)
    let router = makeRouter(services)
    let maintenance = MaintenanceService(store: services.store, logger: logger)
    let gateway = RealtimeGateway(
        backend: RealtimeServices(services: services), limits: config.realtimeLimits, logger: logger)
    services.store.setEventPublisher(gateway.publisher)
    // Services stop in reverse order: the HTTP server (added last by Application), then the gateway, then the store.
    return Application(
        router: router,
        server: HTTPServerBuilder { responder in ChatServerChannel(responder: responder, gateway: gateway) },
        configuration: ApplicationConfiguration(
            address: .hostname(config.server.host, port: config.server.port), serverName: "chatd",
            // After a restart thousands of clients reconnect at once; a short accept queue would drop their SYNs
            // and cost each a second (the kernel caps it at net.core.somaxconn).
            backlog: 4096),
        services: [StoreService(store: services.store), maintenance, RealtimeHousekeeping(gateway: gateway)],
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.server.port
            logger.notice("chatd listening", metadata: ["address": "http://\(config.server.host):\(port)"])
            await onServerRunning(port)
        },
        logger: logger)
}

func makeServices(config: ChatConfig, logger: Logger) async throws -> ChatServices {
    let dataDirectory = URL(fileURLWithPath: config.storage.dataDirectory, isDirectory: true)
    let store = try Store(
        directory: dataDirectory.appendingPathComponent("db", isDirectory: true), durability: config.storage.durability,
        limits: config.storeLimits)
    let secret = try serverSecret(config: config, dataDirectory: dataDirectory)
    let tokens = await TokenIssuer(
        secret: secret, accessSeconds: config.auth.accessTokenSeconds, refreshSeconds: config.auth.refreshTokenSeconds)
    let external = config.external.isEnabled ? try await ExternalTokenVerifier(config.external) : nil
    let otpKey = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Data("chatd otp".utf8), using: SymmetricKey(data: Data(secret.utf8))))
    return ChatServices(
        config: config, store: store, tokens: tokens,
        passwords: try await PasswordHasher(cost: config.auth.bcryptCost),
        codes: OneTimeCodes(
            store: store, config: config.otp, key: otpKey, logToConsole: config.isDevelopmentDefault, logger: logger,
            perDestination: RateLimiter(capacity: config.otp.requestsPerHour, per: 3600)),
        authenticator: Authenticator(tokens: tokens, external: external, store: store),
        messages: MessageService(
            store: store, sendLimiter: RateLimiter(capacity: config.limits.messagesPerMinute, per: 60)),
        logger: logger)
}

func makeRouter(_ services: ChatServices) -> Router<ChatRequestContext> {
    let router = Router(context: ChatRequestContext.self)
    let routes = RouteTable()
    router.add(middleware: ErrorMiddleware(routes: routes))
    let authenticated = AuthMiddleware(authenticator: services.authenticator)
    let authLimiter = RateLimiter(capacity: services.config.limits.authRequestsPerMinute, per: 60)
    AuthRoutes(services: services).register(on: router, limiter: authLimiter, authenticated: authenticated)
    ServerRoutes(services: services).register(on: router)
    let api = router.group("v1").add(middleware: authenticated)
    UserRoutes(services: services).register(on: api)
    ConversationRoutes(services: services).register(on: api)
    MessageRoutes(services: services).register(on: api)
    SyncRoutes(services: services).register(on: api)
    // Without an upgrade, /v1/ws explains itself (with one it never reaches the router: see ChatServerChannel).
    router.get("v1/ws") { _, _ -> Response in
        throw ChatError(.upgradeRequired, "GET /v1/ws upgrades to a WebSocket; see share/protocol.md")
    }
    routes.load(router.routes)
    return router
}

/// The HS256 secret of chatd's own tokens: from the config, else generated once and kept (mode 0600) in the data
/// folder, so tokens stay valid across restarts.
func serverSecret(config: ChatConfig, dataDirectory: URL) throws -> String {
    if !config.auth.jwtSecret.isEmpty { return config.auth.jwtSecret }
    let file = dataDirectory.appendingPathComponent("jwt-secret")
    if let existing = try? String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
        existing.utf8.count >= 32
    {
        return existing
    }
    try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
    let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64URLEncoded()
    guard
        FileManager.default.createFile(
            atPath: file.path, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600])
    else { throw StoreError("cannot write \(file.path)") }
    return secret
}

/// Keeps the store open for the life of the server and closes it after everything else has stopped.
struct StoreService: Service {
    let store: Store

    func run() async throws {
        try? await gracefulShutdown()
        try await store.checkpoint()
        try store.close()
    }
}

/// Hourly housekeeping: prunes events past retention (also right at start-up, after a long stop) and truncates the
/// WAL (not at start-up: the checkpointer keeps it short, and a truncating checkpoint waits for the writer).
struct MaintenanceService: Service {
    let store: Store
    let logger: Logger

    func run() async throws {
        var firstRound = true
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let cutoff = Clock.nowMillis() - Millis(store.limits.eventRetentionDays) * 86_400_000
                let pruned = try await store.pruneEvents(olderThan: cutoff)
                if pruned > 0 { logger.info("pruned old events", metadata: ["count": "\(pruned)"]) }
                if !firstRound { try await store.checkpoint() }
            } catch {
                logger.error("maintenance failed", metadata: ["error": "\(error)"])
            }
            firstRound = false
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
