import ChatCore
import Logging
import ServiceLifecycle

/// Hourly housekeeping: prunes events past retention (also right at start-up, after a long stop) and truncates the
/// WAL (not at start-up: the checkpointer keeps it short, and a truncating checkpoint waits for the writer).
struct MaintenanceService: Service {
    let store: any StoreMaintenance
    let log: any EventLogRepository
    let logger: Logger

    func run() async throws {
        var firstRound = true
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let cutoff = Clock.nowMillis() - Millis(store.eventRetentionDays) * 86_400_000
                let pruned = try await log.pruneEvents(olderThan: cutoff)
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
