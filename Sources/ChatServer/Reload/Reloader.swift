import ChatAdmin
import ChatConfiguration
import ChatCore
import ChatTLS
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// SIGHUP and `chatctl reload`: reads the configuration file again and applies what can change while running (log
/// levels, rate limits, operations thresholds, the certificate). A configuration that does not load, or a
/// certificate that does not, is refused whole and the running settings stay. Open connections are not touched.
final class Reloader: Sendable {
    let configFile: String?
    let settings: LiveSettings
    let tls: ServerTLS?
    let levels: LogLevels?
    let authLimiter: RateLimiter
    let sendLimiter: RateLimiter
    /// What else follows a reload (the alerts, re-evaluated against new thresholds).
    let afterReload: @Sendable () -> Void
    let logger: Logger
    /// One reload at a time (a signal and a `chatctl reload` at once apply one after the other).
    private let running = Mutex(())

    init(
        configFile: String?, settings: LiveSettings, tls: ServerTLS?, levels: LogLevels?, authLimiter: RateLimiter,
        sendLimiter: RateLimiter, afterReload: @escaping @Sendable () -> Void = {}, logger: Logger
    ) {
        self.afterReload = afterReload
        self.configFile = configFile
        self.settings = settings
        self.tls = tls
        self.levels = levels
        self.authLimiter = authLimiter
        self.sendLimiter = sendLimiter
        self.logger = logger
    }

    func reload() throws -> ReloadReport {
        try running.withLock { _ in
            let next: ChatConfig
            do {
                next = try ConfigReader.load(file: configFile)
            } catch let error as ConfigError {
                logger.error("reload refused: the configuration does not load; the running one stays", metadata: ["problems": "\(error)"])
                throw ChatError(.invalidRequest, "the configuration does not load; nothing changed: \(error)")
            }
            let current = settings.current
            let plan = ReloadPlan.between(current, next)
            let merged = ReloadPlan.merged(current, next)
            var certificate: CertificateReport?
            if let tls {
                do {
                    let material = try tls.reload(certificate: merged.tls.certificate, key: merged.tls.key)
                    certificate = CertificateReport(material)
                } catch {
                    logger.error("reload refused: the certificate does not load; the running one stays", metadata: ["problem": "\(error)"])
                    throw ChatError(.invalidRequest, "the certificate does not load; nothing changed: \(error)")
                }
            }
            levels?.update(merged.log)
            authLimiter.reconfigure(capacity: merged.limits.authRequestsPerMinute)
            sendLimiter.reconfigure(capacity: merged.limits.messagesPerMinute)
            settings.replace(merged)
            afterReload()
            logger.notice(
                "configuration reloaded",
                metadata: [
                    "applied": "\(plan.applied.joined(separator: ","))",
                    "needs_restart": "\(plan.needsRestart.joined(separator: ","))",
                ])
            return ReloadReport(applied: plan.applied, needsRestart: plan.needsRestart, certificate: certificate)
        }
    }
}

extension CertificateReport {
    init(_ material: TLSMaterial, now: Date = Date()) {
        self.init(
            subject: material.subject, notValidAfter: Int64(material.notValidAfter.timeIntervalSince1970 * 1000),
            daysLeft: material.daysLeft(now: now))
    }
}

/// Reloads on SIGHUP, for as long as the daemon runs.
struct ReloadOnHangup: Service {
    let reloader: Reloader

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            _ = try? reloader.reload()
        }
    }
}
