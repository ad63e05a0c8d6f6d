import ChatConfiguration
import ChatMedia
import ChatStore
import Crypto
import Foundation
import Logging

extension ChatServices {
    /// Opens the store and builds every service from the configuration.
    static func make(config: ChatConfig, logger: Logger) async throws -> ChatServices {
        let dataDirectory = URL(fileURLWithPath: config.storage.dataDirectory, isDirectory: true)
        let shipping = config.backup.walDirectory.isEmpty
            ? nil
            : WALShipping(
                archive: URL(fileURLWithPath: config.backup.walDirectory, isDirectory: true),
                interval: .seconds(config.backup.shipSeconds))
        let store = try Store(
            directory: dataDirectory.appendingPathComponent("db", isDirectory: true), durability: config.storage.durability,
            limits: config.storeLimits, shipping: shipping)
        let secret = try serverSecret(config: config, dataDirectory: dataDirectory)
        let tokens = await TokenIssuer(
            secret: secret, accessSeconds: config.auth.accessTokenSeconds, refreshSeconds: config.auth.refreshTokenSeconds)
        let external = config.external.isEnabled ? try await ExternalTokenVerifier(config.external) : nil
        let otpKey = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Data("chatd otp".utf8), using: SymmetricKey(data: Data(secret.utf8))))
        let codes = OneTimeCodes(
            store: store.accounts, config: config.otp, key: otpKey, logToConsole: config.isDevelopmentDefault, logger: logger,
            perDestination: RateLimiter(capacity: config.otp.requestsPerHour, per: 3600))
        try ImageProcessor.startLibvips()
        let disk = MediaDisk(root: dataDirectory.appendingPathComponent("media", isDirectory: true))
        try disk.prepare()
        let video = VideoProbe.find(timeLimit: .seconds(config.media.videoToolSeconds))
        if let video {
            logger.info("videos get metadata and a poster", metadata: ["ffprobe": "\(video.ffprobe)", "ffmpeg": "\(video.ffmpeg)"])
        } else {
            logger.notice(
                "ffprobe/ffmpeg not found: videos are stored as plain attachments, without metadata or poster (apt install ffmpeg)")
        }
        let library = MediaLibrary(
            disk: disk, limits: config.media, store: store.media,
            signer: URLSigner(secret: config.auth.mediaURLSecret.isEmpty ? secret : config.auth.mediaURLSecret),
            processesVideo: video != nil)
        var messages = MessageService(
            store: store.messages, maxMessageBytes: config.limits.maxMessageBytes,
            sendLimiter: RateLimiter(capacity: config.limits.messagesPerMinute, per: 60))
        messages.maxAttachments = config.media.maxAttachments
        return ChatServices(
            config: config, settings: LiveSettings(config),
            authLimiter: RateLimiter(capacity: config.limits.authRequestsPerMinute, per: 60),
            authenticator: Authenticator(tokens: tokens, external: external, store: store.accounts),
            accounts: AccountService(
                store: store.accounts, tokens: tokens, passwords: try await PasswordHasher(cost: config.auth.bcryptCost),
                codes: codes, revocations: SessionRevocations(), logger: logger),
            conversations: ConversationService(store: store.conversations),
            messages: messages,
            sync: SyncService(log: store.events, messages: store.messages),
            store: store, log: store.events, jobs: store.jobs, notifications: store.notifications, push: store.push,
            pushSender: PushSender(config: config.push, logger: logger.subsystem("push")),
            media: library, mediaStore: store.media, video: video,
            backups: BackupService(store: store, config: config, logger: logger.subsystem("backup")),
            usage: UsageMeter(timeZone: TimeZone(identifier: config.jobs.timeZone) ?? .gmt), usageStore: store.usage,
            logger: logger)
    }
}
