import ChatAdmin
import ChatCore
import ChatRealtime
import Logging
import ServiceLifecycle
import Synchronization

/// Writes the `UsageMeter`'s counts to the store every minute (and once more on the way down), with a sample of the
/// disk for its growth; `chatctl stats` flushes first, so it never shows a stale minute.
final class UsageRecorder: Service, Sendable {
    let meter: UsageMeter
    let usage: any UsageRepository
    let realtime: RealtimeStats
    let dataDirectory: String
    let logger: Logger
    static let interval = Duration.seconds(60)
    /// The WebSocket bytes counted so far.
    private let flushing = Mutex<Int>(0)

    init(meter: UsageMeter, usage: any UsageRepository, realtime: RealtimeStats, dataDirectory: String, logger: Logger) {
        self.meter = meter
        self.usage = usage
        self.realtime = realtime
        self.dataDirectory = dataDirectory
        self.logger = logger
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.interval) }
            await flushLogged()
        }
    }

    func flushLogged() async {
        do {
            try await flush()
        } catch {
            logger.error("usage figures not written; kept for the next minute", metadata: ["error": "\(error)"])
        }
    }

    /// Hands what the meter counted to the store; on failure puts it back.
    func flush(now: Millis = Clock.nowMillis()) async throws {
        let sent = realtime.bytesSent.load(ordering: .relaxed)
        let newBytes = flushing.withLock { counted in
            defer { counted = sent }
            return sent - counted
        }
        meter.add(UsageCounts(egressBytes: Int64(newBytes)), now: now)
        let deltas = meter.take()
        let disk = DiskStatus.of(dataDirectory)
        do {
            try await usage.record(
                deltas, disk: DiskSample(at: now, usedBytes: disk.totalBytes - disk.freeBytes),
                sampleDay: meter.today(now: now))
        } catch {
            meter.putBack(deltas)
            throw error
        }
    }
}
