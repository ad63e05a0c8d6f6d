import AsyncHTTPClient
import ChatAdmin
import ChatConfiguration
import ChatCore
import ChatJobs
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Evaluates the alert rules every `alerts.interval_seconds` (and after a reload), keeps which fire for `chatctl
/// status`, `check` and `/metrics`, and POSTs a Slack-compatible notice to `alerts.webhook_url` when one starts or
/// stops firing.
final class AlertMonitor: Service, Sendable {
    let services: ChatServices
    let jobs: JobRunner
    let tls: ServerTLS?
    let errors: ErrorRateWindow
    let logger: Logger
    private let book = Mutex(AlertBook())
    private let lastCPU = Mutex<(cpuSeconds: Double, at: ContinuousClock.Instant)?>(nil)
    private let wake = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    init(services: ChatServices, jobs: JobRunner, tls: ServerTLS?, errors: ErrorRateWindow, logger: Logger) {
        self.services = services
        self.jobs = jobs
        self.tls = tls
        self.errors = errors
        self.logger = logger
    }

    /// The alerts firing now, by name.
    var firing: [Alert] { book.withLock { $0.firing.values.sorted { $0.name < $1.name } } }

    /// Evaluate at once (after a reload changed the thresholds).
    func evaluateSoon() {
        wake.continuation.yield()
    }

    func run() async throws {
        evaluateSoon()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(self.services.settings.current.alerts.intervalSeconds))
                    self.evaluateSoon()
                }
            }
            for await _ in wake.stream.cancelOnGracefulShutdown() {
                await evaluate()
            }
            group.cancelAll()
        }
    }

    func evaluate() async {
        let settings = services.settings.current
        var rules = AlertRules()
        rules.cpuPercent = Double(settings.alerts.cpuPercent)
        rules.memoryPercent = Double(settings.alerts.memoryPercent)
        rules.diskPercent = Double(settings.operations.diskWarningPercent)
        rules.errorRatePercent = Double(settings.alerts.errorRatePercent)
        rules.backupMaxAgeHours = settings.alerts.backupMaxAgeHours
        let inputs = await gather(settings)
        let notices = book.withLock { $0.update(rules.evaluate(inputs)) }
        for notice in notices { await send(notice, webhook: settings.alerts.webhookURL) }
    }

    private func gather(_ settings: ChatConfig) async -> AlertInputs {
        let process = ProcessFigures.now()
        let now = ContinuousClock.now
        let cpuPercent = lastCPU.withLock { last -> Double in
            defer { last = (process.cpuSeconds, now) }
            guard let last else { return 0 }
            let wall = last.at.duration(to: now).inSeconds
            guard wall > 0 else { return 0 }
            return (process.cpuSeconds - last.cpuSeconds) / wall / Double(ProcessInfo.processInfo.activeProcessorCount) * 100
        }
        let second = Clock.nowMillis() / 1000
        let window = errors.lastFiveMinutes(atSecond: second)
        let dead = ((try? await jobs.figures()) ?? []).reduce(0) { $0 + $1.depth.dead }
        let backups = services.backups.current
        return AlertInputs(
            cpuPercent: cpuPercent,
            memoryPercent: process.machineMemoryBytes > 0
                ? Double(process.residentBytes) / Double(process.machineMemoryBytes) * 100 : 0,
            diskPercent: DiskStatus.of(settings.storage.dataDirectory).usedFraction * 100,
            errorRatePercent: window.total > 0 ? Double(window.errors) / Double(window.total) * 100 : 0,
            requests: window.total, deadJobs: dead, lastBackupAt: backups.lastSuccessAt,
            backupsScheduled: !settings.backup.time.isEmpty, postCommandFailure: backups.postCommandFailure,
            certificateDaysLeft: tls?.material.daysLeft(), now: Clock.nowMillis(),
            failingPush: services.pushSender.report().filter { $0.state == "failing" }.map {
                "\($0.platform) (\($0.reason ?? "failing"))"
            })
    }

    /// Logs the notice and, with a webhook, POSTs `{"text": …}` (what Slack, Mattermost and Rocket.Chat take).
    private func send(_ notice: AlertBook.Notice, webhook: String) async {
        let host = ProcessInfo.processInfo.hostName
        let text: String
        switch notice {
        case .firing(let alert):
            logger.warning("alert firing", metadata: ["alert": "\(alert.name)", "summary": "\(alert.summary)"])
            text = ":rotating_light: chatd on \(host): FIRING \(alert.name): \(alert.summary)"
        case .resolved(let alert):
            logger.notice("alert resolved", metadata: ["alert": "\(alert.name)"])
            text = ":white_check_mark: chatd on \(host): RESOLVED \(alert.name)"
        }
        guard !webhook.isEmpty else { return }
        var request = HTTPClientRequest(url: webhook)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body = (try? JSONSerialization.data(withJSONObject: ["text": text])) ?? Data()
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 16)
            if response.status.code >= 300 {
                logger.error("the alert webhook refused a notice", metadata: ["status": "\(response.status.code)"])
            }
        } catch {
            logger.error("the alert webhook is unreachable", metadata: ["error": "\(error)"])
        }
    }
}
