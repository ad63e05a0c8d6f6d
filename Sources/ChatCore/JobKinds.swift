/// Every kind of job chatd enqueues, with the queue it runs on and the shape of its payload: one place to read what
/// runs in the background.
extension Job {
    public enum Kind {
        /// Tell the members of a conversation who are not connected about a new message: decide who, record it,
        /// and enqueue the pushes to their devices.
        public static let notifyMessage = "notify.message"
        /// Send one batch of push notifications to devices' vendors (FCM, APNs, Web Push).
        public static let pushDeliver = "push.deliver"
        /// Make the display image, thumbnail and metadata of an upload.
        public static let mediaProcess = "media.process"
        /// The daily lifecycle pass: media, deleted messages' remains, old notifications.
        public static let cleanupDaily = "cleanup.daily"
        /// The daily snapshot, its post-backup command, and pruning (`[backup]`).
        public static let backupDaily = "backup.daily"
    }

    public enum Queue {
        public static let media = "media"
        public static let notify = "notify"
        /// Deliveries to the push vendors: their own queue, so a slow vendor never holds up the notify jobs.
        public static let push = "push"
        public static let cleanup = "cleanup"
        /// The queues chatd runs, each with its own concurrency, attempts and backoff (`[jobs.<queue>]`).
        public static let all = [media, notify, push, cleanup]
    }

    /// The daily cleanup pass; keyed, so two passes never overlap.
    public static let dailyCleanup = Job(
        kind: Kind.cleanupDaily, queue: Queue.cleanup, key: Kind.cleanupDaily, payload: "{}")

    /// The daily snapshot; keyed, so two never overlap. It runs on the cleanup queue (one at a time).
    public static let dailyBackup = Job(
        kind: Kind.backupDaily, queue: Queue.cleanup, key: Kind.backupDaily, payload: "{}")

    /// The notification job of a new message. Its payload is written by hand: it is on the path of every send.
    public static func notify(_ message: Message) -> Job {
        Job(
            kind: Kind.notifyMessage, queue: Queue.notify,
            payload: "{\"conversation_id\":\(message.conversationId),\"message_id\":\(message.id),"
                + "\"sender_id\":\(message.senderId),\"seq\":\(message.seq)}")
    }
}

/// The payload of `notify.message`.
public struct NotifyMessagePayload: Codable, Sendable, Equatable {
    public var conversationId: ConversationID
    public var messageId: MessageID
    public var senderId: UserID
    public var seq: Seq
}

/// A notification for one member who was not connected when a message arrived.
public struct Notification: Sendable, Equatable, Codable {
    public var userId: UserID
    public var conversationId: ConversationID
    public var messageId: MessageID
    /// The conversation's title, or the sender's name in a direct conversation.
    public var title: String
    /// The start of the text ("sent an attachment" for a message without one).
    public var body: String

    public init(userId: UserID, conversationId: ConversationID, messageId: MessageID, title: String, body: String) {
        self.userId = userId
        self.conversationId = conversationId
        self.messageId = messageId
        self.title = title
        self.body = body
    }
}

/// The notifications the notify jobs recorded (`PushRepository.fanOut` records them).
public protocol NotificationRepository: Sendable {
    /// A user's latest notifications, newest first.
    func notifications(for user: UserID, limit: Int) async throws -> [Notification]
    /// Deletes notifications recorded before `before`; returns how many.
    func prune(before: Millis) async throws -> Int
}
