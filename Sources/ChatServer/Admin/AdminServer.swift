import ChatCore
import ChatJobs
import ChatRealtime
import Foundation
import Hummingbird
import Logging

/// The admin API's listener: HTTP on a Unix domain socket, never TCP. The socket is made mode 0660 as soon as it
/// exists, so the file's owner and group (root and `chatd` when installed) are the access control; the folder it is
/// in (`/run/chatd`, mode 0750, when installed) keeps others out from the first moment.
enum AdminServer {
    static func make(
        services: ChatServices, gateway: RealtimeGateway, jobs: JobRunner, reloader: Reloader, alerts: AlertMonitor,
        recorder: UsageRecorder, startedAt: Millis, logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router(context: ChatRequestContext.self)
        let routes = RouteTable()
        router.add(middleware: ErrorMiddleware(routes: routes))
        AdminRoutes(services: services, gateway: gateway, jobs: jobs, alerts: alerts, startedAt: startedAt)
            .register(on: router)
        AdminUserRoutes(services: services).register(on: router)
        AdminModerationRoutes(services: services).register(on: router)
        AdminMediaRoutes(services: services).register(on: router)
        AdminOperationsRoutes(services: services, reloader: reloader).register(on: router)
        AdminBackupRoutes(services: services).register(on: router)
        AdminStatsRoutes(
            services: services, gateway: gateway, recorder: recorder,
            baselineResidentBytes: ProcessFigures.now().residentBytes
        ).register(on: router)
        routes.load(router.routes)
        let path = services.config.adminSocketPath
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .unixDomainSocket(path: path), serverName: "chatd-admin"),
            onServerRunning: { _ in
                chmod(path, 0o660)
                logger.info("admin socket ready", metadata: ["path": "\(path)"])
            },
            logger: logger)
    }
}
