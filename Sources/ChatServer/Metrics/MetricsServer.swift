import ChatAdmin
import ChatConfiguration
import ChatCore
import ChatJobs
import ChatRealtime
import Foundation
import Hummingbird
import Logging

/// `/metrics` in Prometheus text format, on its own listener (loopback by default): what is recorded as it happens,
/// plus the figures read at each scrape.
enum MetricsServer {
    static func make(config: ChatConfig, sampler: MetricsSampler, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            let text = await sampler.sampleAndRender()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: .init(string: text)))
        }
        return Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(config.metrics.host, port: config.metrics.port), serverName: "chatd-metrics"),
            onServerRunning: { channel in
                logger.notice(
                    "metrics served", metadata: ["address": "http://\(config.metrics.host):\(channel.localAddress?.port ?? 0)/metrics"])
            },
            logger: logger)
    }
}

/// Reads, at each scrape, the figures kept elsewhere: connections, queues, the store's files, the disk, backups and
/// the WAL archive, the process, and the alerts firing.
struct MetricsSampler: Sendable {
    let metrics: ChatMetrics
    let services: ChatServices
    let gateway: RealtimeGateway
    let jobs: JobRunner
    let alerts: AlertMonitor

    func sampleAndRender() async -> String {
        await sample()
        return metrics.text()
    }

    func sample() async {
        metrics.gauge("chatd_websocket_connections", [], Double(gateway.openConnections))
        metrics.gauge("chatd_users_online", [], Double(gateway.usersOnline))
        metrics.total("chatd_websocket_frames_received_total", is: Int64(gateway.stats.framesReceived.load(ordering: .relaxed)))
        metrics.total("chatd_websocket_frames_sent_total", is: Int64(gateway.stats.framesSent.load(ordering: .relaxed)))
        for queue in (try? await jobs.figures()) ?? [] {
            let label = [("queue", queue.queue)]
            for (state, count) in [
                ("ready", queue.depth.ready), ("delayed", queue.depth.delayed), ("running", queue.depth.running),
                ("dead", queue.depth.dead),
            ] {
                metrics.gauge("chatd_jobs_queue_depth", label + [("state", state)], Double(count))
            }
            metrics.gauge("chatd_jobs_oldest_ready_age_seconds", label, Double(queue.depth.oldestReadyAgeMillis) / 1000)
            metrics.total("chatd_jobs_completed_total", label, is: Int64(queue.counters.completed))
            metrics.total("chatd_jobs_failed_attempts_total", label, is: Int64(queue.counters.failedAttempts))
            metrics.total("chatd_jobs_dead_total", label, is: Int64(queue.counters.buried))
        }
        let files = services.store.fileSizes()
        metrics.gauge("chatd_store_wal_bytes", [], Double(files.wal))
        metrics.gauge("chatd_store_database_bytes", [], Double(files.database))
        let disk = DiskStatus.of(services.config.storage.dataDirectory)
        metrics.gauge("chatd_disk_used_ratio", [], disk.usedFraction)
        metrics.gauge("chatd_disk_free_bytes", [], Double(disk.freeBytes))
        let backups = services.backups.current
        metrics.gauge("chatd_backup_last_success_timestamp_seconds", [], Double(backups.lastSuccessAt ?? 0) / 1000)
        // Zero when point-in-time recovery is off.
        let shipped = services.backups.store.walShipper?.figures ?? (lastShipAt: 0, shippedBytes: 0, lastCommitShipped: 0)
        metrics.gauge("chatd_wal_last_ship_timestamp_seconds", [], Double(shipped.lastShipAt) / 1000)
        metrics.total("chatd_wal_shipped_bytes_total", is: shipped.shippedBytes)
        let process = ProcessFigures.now()
        metrics.total("chatd_process_cpu_seconds_total", is: Int64(process.cpuSeconds))
        metrics.gauge("chatd_process_resident_memory_bytes", [], Double(process.residentBytes))
        metrics.gauge("chatd_process_open_fds", [], Double(process.openFiles))
        metrics.gauge("chatd_process_max_fds", [], Double(process.maxFiles))
        metrics.gauge("chatd_process_start_time_seconds", [], process.startTimeSeconds)
        metrics.gauge("chatd_machine_memory_bytes", [], Double(process.machineMemoryBytes))
        metrics.gauge("chatd_machine_cpus", [], Double(ProcessInfo.processInfo.activeProcessorCount))
        let firing = Set(alerts.firing.map(\.name))
        for name in AlertRules.names {
            metrics.gauge("chatd_alert_firing", [("alert", name)], firing.contains(name) ? 1 : 0)
        }
    }
}

/// Counts committed messages on their way from the store to the hub (both transports send through the store), for
/// `/metrics` and `chatctl stats`.
struct CountingPublisher: EventPublisher {
    let inner: any EventPublisher
    let metrics: ChatMetrics
    let usage: UsageMeter

    func publish(_ events: [Event]) {
        let created = events.reduce(0) { $0 + ($1.type == .messageCreated ? 1 : 0) }
        if created > 0 {
            metrics.count("chatd_messages_sent_total", by: Int64(created))
            usage.add(UsageCounts(messages: Int64(created)))
        }
        inner.publish(events)
    }
}
