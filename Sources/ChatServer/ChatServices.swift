import ChatConfiguration
import ChatCore
import ChatMedia
import Logging

/// The services of chatd, one per feature, built once by `ChatServices.make`. Each owns the validation,
/// authorization and rate limits of its operations for both transports: the REST routes and the WebSocket frames
/// only translate to its calls.
struct ChatServices: Sendable {
    let config: ChatConfig
    /// The configuration with each reload's reloadable parts (log levels, rate limits, thresholds).
    let settings: LiveSettings
    /// Sign-in and sign-up requests per IP (its capacity follows reloads, like the send limiter's).
    let authLimiter: RateLimiter
    let authenticator: Authenticator
    let accounts: AccountService
    let conversations: ConversationService
    let messages: MessageService
    let sync: SyncService
    /// The store as a running part: where committed events go, checkpoints, closing.
    let store: any StoreMaintenance
    /// The event log, for pruning.
    let log: any EventLogRepository
    /// The durable job queue, and the notifications its notify jobs record.
    let jobs: any JobRepository
    let notifications: any NotificationRepository
    /// Devices' push targets and users' push settings, and the vendors the notify jobs send through.
    let push: any PushRepository
    let pushSender: PushSender
    /// Uploads and downloads, and what processing needs: the media rows, ffprobe/ffmpeg when installed.
    let media: MediaLibrary
    let mediaStore: any MediaRepository
    let video: VideoProbe?
    /// Snapshots (daily and on demand) and their pruning.
    let backups: BackupService
    /// The day's use as it happens (`chatctl stats`), and where it is kept.
    let usage: UsageMeter
    let usageStore: any UsageRepository
    let logger: Logger

    /// The largest JSON body a route reads.
    var maxBody: Int { config.limits.maxBodyBytes }
}
