import ChatConfiguration
import ChatCore
import ChatJobs
import ChatMedia
import ChatPush
import ChatRealtime
import Crypto
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import Synchronization

/// Builds the whole daemon from its configuration: the store, the auth services, the router, the maintenance
/// service. `onServerRunning` receives the bound port (useful with port 0). `configFile` is what a reload reads
/// again; `logLevels`, when chatd's log handler is installed, is what a reload changes.
public func buildApplication(
    config: ChatConfig, logger: Logger, configFile: String? = nil, logLevels: LogLevels? = nil,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let tls: ServerTLS?
    do {
        tls = config.tls.isEnabled ? try ServerTLS(certificate: config.tls.certificate, key: config.tls.key) : nil
    } catch {
        throw ConfigError(problems: ["tls: \(error)"])
    }
    if let material = tls?.material, material.daysLeft() < 14 {
        logger.warning(
            "the TLS certificate expires soon: renew it, then `chatctl cert import` or SIGHUP",
            metadata: ["days_left": "\(material.daysLeft())", "subject": "\(material.subject)"])
    }
    let services = try await ChatServices.make(config: config, logger: logger)
    let metrics = ChatMetrics()
    let errors = ErrorRateWindow()
    let maintenance = MaintenanceService(store: services.store, log: services.log, logger: logger.subsystem("store"))
    let gateway = RealtimeGateway(
        backend: RealtimeServices(services: services), limits: config.realtime, logger: logger.subsystem("realtime"))
    let router = makeRouter(
        services, gateway: gateway, tls: config.tls,
        observe: RequestMetrics(metrics: metrics, errors: errors, usage: services.usage, logger: logger.subsystem("http")))
    services.store.setEventPublisher(CountingPublisher(inner: gateway.publisher, metrics: metrics, usage: services.usage))
    services.accounts.revocations.connect(gateway.revocations)
    let jobs = makeJobRunner(services, gateway: gateway, metrics: metrics)
    services.store.setJobPublisher(jobs)
    services.store.observeCommits { duration, writes in
        metrics.time("chatd_store_commit_duration_seconds", [], duration)
        metrics.record("chatd_store_commit_batch_size", [], writes)
    }
    services.store.observeCheckpoints { duration, frames in
        metrics.time("chatd_store_checkpoint_duration_seconds", [], duration)
        metrics.count("chatd_store_checkpoint_frames_total", by: Int64(frames))
    }
    services.pushSender.observe { platform, outcome, duration in
        let provider = ("provider", platform.rawValue)
        if outcome == .delivered {
            metrics.count("chatd_push_sent_total", [provider])
        } else {
            metrics.count("chatd_push_failed_total", [provider, ("reason", outcome.metricReason)])
        }
        metrics.time("chatd_push_duration_seconds", [provider], duration)
    }
    gateway.stats.observeFanout { metrics.time("chatd_fanout_duration_seconds", [], $0) }
    gateway.stats.observeSessions { [usage = services.usage] length in
        usage.add(UsageCounts(sessions: 1, sessionSeconds: length.components.seconds))
    }
    let recorder = UsageRecorder(
        meter: services.usage, usage: services.usageStore, realtime: gateway.stats,
        dataDirectory: config.storage.dataDirectory, logger: logger.subsystem("store"))
    let alerts = AlertMonitor(
        services: services, jobs: jobs, tls: tls, errors: errors, logger: logger.subsystem("alerts"))
    let reloader = Reloader(
        configFile: configFile, settings: services.settings, tls: tls, levels: logLevels,
        authLimiter: services.authLimiter, sendLimiter: services.messages.sendLimiter,
        afterReload: { alerts.evaluateSoon() }, logger: logger.subsystem("admin"))
    let admin = AdminServer.make(
        services: services, gateway: gateway, jobs: jobs, reloader: reloader, alerts: alerts, recorder: recorder,
        startedAt: Clock.nowMillis(), logger: logger.subsystem("admin"))
    let boundPort = Mutex(config.server.port)
    var extra: [any Service] = [ReloadOnHangup(reloader: reloader), alerts, recorder]
    if config.metrics.enabled {
        let sampler = MetricsSampler(metrics: metrics, services: services, gateway: gateway, jobs: jobs, alerts: alerts)
        extra.append(MetricsServer.make(config: config, sampler: sampler, logger: logger.subsystem("http")))
    }
    if config.tls.isEnabled, config.tls.redirectPort != 0 {
        extra.append(RedirectServer.make(config: config, httpsPort: { boundPort.withLock { $0 } }, logger: logger))
    }
    let scheme = tls == nil ? "http" : "https"
    // Services stop in reverse order: the HTTP server (added last by Application), then the gateway, the job
    // runner (after the last request that could enqueue), then the store.
    return Application(
        router: router,
        server: HTTPServerBuilder { responder in
            ChatServerChannel(responder: responder, gateway: gateway, http: config.http, tls: tls)
        },
        configuration: ApplicationConfiguration(
            address: .hostname(config.server.host, port: config.server.port), serverName: "chatd",
            // After a restart thousands of clients reconnect at once; a short accept queue would drop their SYNs
            // and cost each a second (the kernel caps it at net.core.somaxconn).
            backlog: 4096),
        services: [
            StoreService(store: services.store), services.pushSender, jobs, maintenance,
            RealtimeHousekeeping(gateway: gateway),
        ]
            + extra + [admin],
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.server.port
            boundPort.withLock { $0 = port }
            logger.notice("chatd listening", metadata: ["address": "\(scheme)://\(config.server.host):\(port)"])
            await onServerRunning(port)
        },
        logger: logger)
}

/// The job runner with a handler for every kind of job and the daily schedules, from the `[jobs]` configuration.
func makeJobRunner(_ services: ChatServices, gateway: RealtimeGateway, metrics: ChatMetrics? = nil) -> JobRunner {
    let config = services.config.jobs
    let zone = TimeZone(identifier: config.timeZone) ?? .gmt
    let handlers: [String: any JobHandler] = [
        Job.Kind.notifyMessage: NotifyHandler(
            push: services.push, connected: { gateway.connectedUsers(among: $0) },
            preview: PushPreview(rawValue: services.config.push.preview) ?? .full),
        Job.Kind.pushDeliver: PushDeliveryHandler(
            push: services.push, sender: services.pushSender,
            policy: config.queues[Job.Queue.push] ?? QueuePolicy.defaults[Job.Queue.push]!,
            clock: Clock.nowMillis, random: { Double.random(in: 0..<1) }),
        Job.Kind.mediaProcess: {
            var processing = MediaProcessing(
                library: services.media, store: services.mediaStore,
                images: ImageProcessor(
                    maxPixels: services.config.media.maxPixels, displaySize: services.config.media.displaySize,
                    thumbnailSize: services.config.media.thumbnailSize),
                video: services.video, logger: services.logger.subsystem("media"))
            processing.observe = { kind, duration in
                metrics?.time("chatd_media_processing_duration_seconds", [("kind", kind.rawValue)], duration)
            }
            return processing
        }(),
        Job.Kind.backupDaily: DailyBackup(backups: services.backups),
        Job.Kind.cleanupDaily: DailyCleanup(
            media: MediaCleanup(library: services.media, store: services.mediaStore, logger: services.logger),
            notifications: services.notifications, retentionDays: services.config.events.retentionDays,
            logger: services.logger),
    ]
    let backupTime = services.config.backup.time
    let schedules = [
        DailySchedule(name: "cleanup", time: config.cleanupTime, timeZone: zone, job: .dailyCleanup),
        backupTime.isEmpty ? nil : DailySchedule(name: "backup", time: backupTime, timeZone: zone, job: .dailyBackup),
    ].compactMap { $0 }
    return JobRunner(
        repository: services.jobs, policies: config.queues, handlers: handlers, schedules: schedules,
        logger: services.logger.subsystem("jobs"))
}

func makeRouter(
    _ services: ChatServices, gateway: RealtimeGateway, tls: ChatConfig.TLS = .init(),
    observe: RequestMetrics<ChatRequestContext>? = nil
) -> Router<ChatRequestContext> {
    let router = Router(context: ChatRequestContext.self)
    let routes = RouteTable()
    if let observe { router.add(middleware: observe) }
    if tls.isEnabled, tls.hstsSeconds > 0 {
        router.add(middleware: HSTSMiddleware(seconds: tls.hstsSeconds))
    }
    router.add(middleware: ErrorMiddleware(routes: routes))
    let authenticated = AuthMiddleware(authenticator: services.authenticator, usage: services.usage)
    AuthRoutes(services: services).register(on: router, limiter: services.authLimiter, authenticated: authenticated)
    ServerRoutes(services: services).register(on: router)
    HealthRoutes(services: services, gateway: gateway).register(on: router)
    let api = router.group("v1").add(middleware: authenticated).group(context: AuthenticatedContext.self)
    UserRoutes(services: services).register(on: api)
    ConversationRoutes(services: services).register(on: api)
    MessageRoutes(services: services).register(on: api)
    SyncRoutes(services: services).register(on: api)
    PushRoutes(services: services).register(on: api)
    let media = MediaRoutes(services: services)
    media.register(on: api)
    media.registerSigned(on: router)
    // Without an upgrade, /v1/ws explains itself (with one it never reaches the router: see ChatServerChannel).
    router.get("v1/ws") { _, _ -> Response in
        throw ChatError(.upgradeRequired, "GET /v1/ws upgrades to a WebSocket; see share/protocol.md")
    }
    routes.load(router.routes)
    return router
}
