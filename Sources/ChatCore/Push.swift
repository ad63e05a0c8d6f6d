import Foundation

/// The vendor that carries a device's notifications.
public enum PushPlatform: String, Sendable, Codable, CaseIterable {
    /// Firebase Cloud Messaging (Android, and iOS apps that use Firebase): a registration token.
    case fcm
    /// Apple Push Notification service: a device token, the app's bundle id, sandbox or production.
    case apns
    /// A browser's Push API subscription: an endpoint URL and the keys its payloads are encrypted to.
    case webpush
}

/// Where one device receives notifications. A device (a login session) has at most one; it is removed when the
/// session ends, and when the vendor reports it gone.
public struct PushTarget: Sendable, Equatable, Codable {
    public var id: Int64
    public var userId: UserID
    /// The login session that registered it; nil for tokens minted by the app's backend (no chatd session).
    public var sessionId: SessionID?
    public var platform: PushPlatform
    /// The FCM registration token, the APNs device token (hex), or the Web Push endpoint.
    public var token: String
    /// APNs: the app's bundle id (`apns-topic`).
    public var topic: String?
    /// APNs: whether the token belongs to Apple's sandbox (development builds).
    public var sandbox: Bool
    /// Web Push: the subscription's P-256 public key (65 bytes, uncompressed point) and its 16-byte auth secret.
    public var p256dh: Data?
    public var auth: Data?
    public var createdAt: Millis

    public init(
        id: Int64, userId: UserID, sessionId: SessionID?, platform: PushPlatform, token: String, topic: String? = nil,
        sandbox: Bool = false, p256dh: Data? = nil, auth: Data? = nil, createdAt: Millis
    ) {
        self.id = id
        self.userId = userId
        self.sessionId = sessionId
        self.platform = platform
        self.token = token
        self.topic = topic
        self.sandbox = sandbox
        self.p256dh = p256dh
        self.auth = auth
        self.createdAt = createdAt
    }
}

/// A device's request to receive notifications, checked for shape (`validated`). Whether the platform is enabled
/// and a Web Push key is a point on the curve are the push module's to say.
public struct PushTargetRegistration: Sendable, Equatable {
    public var platform: PushPlatform
    public var token: String
    public var topic: String?
    public var sandbox: Bool
    public var p256dh: Data?
    public var auth: Data?

    public init(
        platform: PushPlatform, token: String, topic: String? = nil, sandbox: Bool = false, p256dh: Data? = nil,
        auth: Data? = nil
    ) {
        self.platform = platform
        self.token = token
        self.topic = topic
        self.sandbox = sandbox
        self.p256dh = p256dh
        self.auth = auth
    }

    /// The same registration, or an error that names the field that is wrong.
    public func validated() throws -> PushTargetRegistration {
        var clean = self
        switch platform {
        case .fcm:
            guard (1...4096).contains(token.utf8.count), token.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw ChatError.invalid("token: an FCM registration token is 1 to 4096 visible ASCII characters")
            }
            clean.topic = nil
            clean.sandbox = false
            clean.p256dh = nil
            clean.auth = nil
        case .apns:
            guard (64...200).contains(token.utf8.count), token.count % 2 == 0, token.allSatisfy(\.isHexDigit) else {
                throw ChatError.invalid("token: an APNs device token is 64 to 200 hexadecimal digits")
            }
            clean.token = token.lowercased()
            guard let topic, (1...255).contains(topic.utf8.count),
                topic.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) })
            else {
                throw ChatError.invalid("topic: the app's bundle id (letters, digits, '-', '.', '_') is required for APNs")
            }
            clean.p256dh = nil
            clean.auth = nil
        case .webpush:
            guard token.utf8.count <= 2048, let url = URL(string: token), url.scheme == "https",
                let host = url.host, !host.isEmpty
            else {
                throw ChatError.invalid("endpoint: a Web Push endpoint is an https URL of at most 2048 bytes")
            }
            guard let p256dh, p256dh.count == 65, p256dh.first == 0x04 else {
                throw ChatError.invalid("keys.p256dh: the subscription's key is a 65-byte uncompressed P-256 point, base64url")
            }
            guard let auth, auth.count == 16 else {
                throw ChatError.invalid("keys.auth: the subscription's auth secret is 16 bytes, base64url")
            }
            clean.topic = nil
            clean.sandbox = false
        }
        return clean
    }
}

/// How much of a message a notification shows on a lock screen (`push.preview`).
public enum PushPreview: String, Sendable, Codable, CaseIterable {
    /// The conversation, the sender and the start of the text.
    case full
    /// The conversation and the sender, and "New message" for the text.
    case generic
    /// "New message" and nothing else: no name, no text (the app fetches the rest when opened).
    case none
}

/// A user's own choices about notifications.
public struct PushSettings: Sendable, Equatable, Codable {
    /// Whether a message that mentions the user (`@handle`) notifies them in a conversation they muted.
    public var mentionsBreakMute: Bool

    public init(mentionsBreakMute: Bool = true) {
        self.mentionsBreakMute = mentionsBreakMute
    }
}

/// One member of a conversation as the notify job weighs them for one message: everything the decision needs,
/// read in one transaction.
public struct PushCandidate: Sendable, Equatable {
    public var userId: UserID
    public var handle: String?
    public var muted: Bool
    public var settings: PushSettings
    /// They blocked the sender.
    public var blockedSender: Bool
    /// The conversation already holds a later message that someone else sent: its own notification supersedes this
    /// one (a burst collapses into its last message).
    public var superseded: Bool
    /// Unread messages across all their conversations: the badge.
    public var unread: Int
    public var targets: [PushTarget]

    public init(
        userId: UserID, handle: String? = nil, muted: Bool = false, settings: PushSettings = PushSettings(),
        blockedSender: Bool = false, superseded: Bool = false, unread: Int = 0, targets: [PushTarget] = []
    ) {
        self.userId = userId
        self.handle = handle
        self.muted = muted
        self.settings = settings
        self.blockedSender = blockedSender
        self.superseded = superseded
        self.unread = unread
        self.targets = targets
    }
}

/// A new message as a notification tells of it.
public struct PushMessage: Sendable, Equatable {
    public var conversationId: ConversationID
    public var messageId: MessageID
    public var seq: Seq
    public var senderId: UserID
    public var senderName: String
    public var isGroup: Bool
    /// The group's title (nil for a direct conversation or an untitled group).
    public var conversationTitle: String?
    /// The text; empty for a message of attachments only.
    public var text: String
    /// "image", "video" or "file" for a message of attachments only.
    public var attachmentKind: String?

    public init(
        conversationId: ConversationID, messageId: MessageID, seq: Seq, senderId: UserID, senderName: String,
        isGroup: Bool, conversationTitle: String? = nil, text: String, attachmentKind: String? = nil
    ) {
        self.conversationId = conversationId
        self.messageId = messageId
        self.seq = seq
        self.senderId = senderId
        self.senderName = senderName
        self.isGroup = isGroup
        self.conversationTitle = conversationTitle
        self.text = text
        self.attachmentKind = attachmentKind
    }
}

/// What the notify job reads for one message: the message and every member but its sender who was not connected.
public struct PushAudienceInput: Sendable, Equatable {
    public var message: PushMessage
    public var candidates: [PushCandidate]

    public init(message: PushMessage, candidates: [PushCandidate]) {
        self.message = message
        self.candidates = candidates
    }
}

/// What one notify job decided: the notifications to record and the delivery batches to enqueue.
public struct PushFanOut: Sendable, Equatable {
    public var lease: JobLease
    public var notifications: [Notification]
    public var deliveries: [Job]

    public init(lease: JobLease, notifications: [Notification], deliveries: [Job]) {
        self.lease = lease
        self.notifications = notifications
        self.deliveries = deliveries
    }
}

/// Push targets and settings in the store, and the notify jobs' reads and writes.
public protocol PushRepository: Sendable {
    /// Registers the device's target. A session keeps one: a new registration replaces its earlier one, and a token
    /// registered before (by another session or user) moves to this one. A session that has ended registers nothing
    /// (`ChatError.unauthorized`).
    func register(_ registration: PushTargetRegistration, user: UserID, session: SessionID?, now: Millis)
        async throws -> PushTarget
    func targets(of user: UserID) async throws -> [PushTarget]
    func targets(ids: [Int64]) async throws -> [PushTarget]
    /// Removes one of the user's targets; false when they have none with that id.
    func remove(target: Int64, user: UserID) async throws -> Bool
    /// Removes the target the session registered; false when it had none.
    func removeTarget(session: SessionID) async throws -> Bool
    func settings(of user: UserID) async throws -> PushSettings
    func setSettings(_ settings: PushSettings, user: UserID) async throws

    /// Each message and its members as the notify jobs weigh them, in one read; a message deleted first is left out.
    /// Members that `connected` names (they see the message live) are left out before anything else about them is
    /// read, so a conversation whose members are all online costs two index lookups.
    func audiences(of messages: [MessageID], connected: @escaping @Sendable ([UserID]) -> Set<UserID>) async throws
        -> [MessageID: PushAudienceInput]
    /// For each notify job: records its notifications, enqueues their deliveries and finishes the job, all jobs in
    /// one transaction. A job whose lease ended meanwhile (another attempt has it) records and enqueues nothing; the
    /// leases of those are returned.
    func fanOut(_ jobs: [PushFanOut]) async throws -> Set<JobLease>
    /// Of some messages, those deleted (or gone) since their notifications were made: a delivery skips them.
    func deletedMessages(among messages: [MessageID]) async throws -> Set<MessageID>
    /// After a delivery attempt: removes the targets the vendor reported gone, enqueues the retries of what may be
    /// tried again, and finishes the job, in one transaction.
    func settle(removing targets: [Int64], retries: [Job], completing lease: JobLease) async throws
}
