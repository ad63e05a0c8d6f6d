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
    /// The WebSocket bytes counted so far, and the flush under way: flushes run one after the other, so a
    /// `chatctl stats` that flushes reads after the minute's flush has landed.
    private let flushing = Mutex<(countedBytes: Int, last: Task<Void, any Error>?)>((0, nil))

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
        let task = flushing.withLock { state -> Task<Void, any Error> in
            let previous = state.last
            let task = Task {
                _ = await previous?.result
                try await self.write(now: now)
            }
            state.last = task
            return task
        }
        try await task.value
    }

    private func write(now: Millis) async throws {
        let sent = realtime.bytesSent.load(ordering: .relaxed)
        let newBytes = flushing.withLock { state in
            defer { state.countedBytes = sent }
            return sent - state.countedBytes
        }
        meter.add(UsageCounts(egressBytes: Int64(newBytes)), now: now)
        let deltas = meter.take()
        let disk = DiskStatus.of(dataDirectory)
        do {
            try await usage.record(
                deltas,
                disk: disk.totalBytes > 0 ? DiskSample(at: now, usedBytes: disk.totalBytes - disk.freeBytes) : nil,
                sampleDay: meter.today(now: now))
        } catch {
            meter.putBack(deltas)
            throw error
        }
    }
}
