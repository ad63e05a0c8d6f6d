import ChatAdmin
import ChatCore
import ChatRealtime
import Hummingbird

/// `chatctl stats`: the last days' use from the store (flushed first, so this minute counts too) and the headroom.
struct AdminStatsRoutes {
    let services: ChatServices
    let gateway: RealtimeGateway
    let recorder: UsageRecorder
    /// Resident memory at start-up, before any connection.
    let baselineResidentBytes: Int64

    func register(on router: Router<ChatRequestContext>) {
        router.get(RouterPath(AdminAPI.stats), use: stats)
    }

    @Sendable func stats(_ request: Request, context: ChatRequestContext) async throws -> StatsReport {
        let count = try request.uri.queryParameters.get("days").map { text -> Int in
            guard let days = Int(text), (1...366).contains(days) else {
                throw ChatError.invalid("days must be a whole number from 1 to 366")
            }
            return days
        } ?? 7
        let now = Clock.nowMillis()
        try await recorder.flush(now: now)
        let names = recorder.meter.calendar.days(count, endingAt: now)
        let stored = Dictionary(
            try await recorder.usage.days(from: names[0], through: names[names.count - 1]).map { ($0.day, $0) },
            uniquingKeysWith: { first, _ in first })
        let days = names.map { stored[$0] ?? UsageDay(day: $0, activeUsers: 0, counts: UsageCounts()) }
        let process = ProcessFigures.now()
        let disk = DiskStatus.of(services.config.storage.dataDirectory)
        let settings = services.settings.current
        let inputs = HeadroomInputs(
            now: now, connections: gateway.openConnections, maxOpenFiles: process.maxFiles, residentBytes: process.residentBytes,
            baselineResidentBytes: baselineResidentBytes, memoryBytes: process.machineMemoryBytes,
            memoryLimitPercent: settings.alerts.memoryPercent, diskUsedBytes: disk.totalBytes - disk.freeBytes,
            diskTotalBytes: disk.totalBytes, diskWarningPercent: settings.operations.diskWarningPercent,
            firstDisk: days.lazy.compactMap(\.firstDisk).first, lastDisk: days.reversed().lazy.compactMap(\.lastDisk).first)
        return StatsReport(
            days: days.map(DayStats.init),
            headroom: Headroom.estimate(inputs, calendar: recorder.meter.calendar))
    }
}

extension StatsReport: ResponseEncodable {}
