import ChatCore
import ChatJobs
import ChatMedia
import Logging

/// `cleanup.daily`: the media lifecycle (`MediaCleanup`: unfinished uploads, unused media, deleted messages' remains,
/// reconciliation), then notifications older than the event log's retention. Each step is idempotent, so a pass cut
/// short runs again whole.
struct DailyCleanup: JobHandler {
    let media: MediaCleanup
    let notifications: any NotificationRepository
    /// `events.retention_days`: a notification lives as long as the event it is about.
    let retentionDays: Int
    let logger: Logger

    func run(_ job: LeasedJob) async throws {
        try await media.run()
        let pruned = try await notifications.prune(before: Clock.nowMillis() - Millis(retentionDays) * 86_400_000)
        if pruned > 0 { logger.info("pruned old notifications", metadata: ["count": "\(pruned)"]) }
    }
}
