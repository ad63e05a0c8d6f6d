import ChatCore
import Foundation

/// The admin API between the daemon and `chatctl`: JSON over HTTP on a Unix domain socket (mode 0660, so the file's
/// permissions are the access control; no admin API listens on TCP). These are its paths and bodies, shared by both
/// sides so they cannot drift apart.
public enum AdminAPI {
    public static let status = "/v1/status"
    public static let jobs = "/v1/jobs"
    public static let queues = "/v1/queues"

    public static func job(_ id: Int64) -> String { "/v1/jobs/\(id)" }
    public static func retryJob(_ id: Int64) -> String { "/v1/jobs/\(id)/retry" }
    public static let purgeDeadJobs = "/v1/jobs/purge"
    public static func pause(_ queue: String) -> String { "/v1/queues/\(queue)/pause" }
    public static let conversations = "/v1/conversations"
    public static func conversation(_ id: Int64) -> String { "/v1/conversations/\(id)" }
    public static func deleteMessage(_ conversation: Int64, _ seq: Int64) -> String {
        "/v1/conversations/\(conversation)/messages/\(seq)/delete"
    }
    public static let mediaStats = "/v1/media/stats"
    public static let mediaGC = "/v1/media/gc"
    public static let users = "/v1/users"
    public static let reload = "/v1/reload"
    public static let certificate = "/v1/certificate"
    /// A user by id or handle.
    public static func user(_ reference: String) -> String { "/v1/users/\(escape(reference))" }
    public static func disable(_ reference: String) -> String { user(reference) + "/disable" }
    public static func enable(_ reference: String) -> String { user(reference) + "/enable" }
    public static func sessions(_ reference: String) -> String { user(reference) + "/sessions" }
    public static func kick(_ reference: String) -> String { user(reference) + "/kick" }
    public static func password(_ reference: String) -> String { user(reference) + "/password" }
    public static func deleteUser(_ reference: String) -> String { user(reference) + "/delete" }
    public static func role(_ reference: String) -> String { user(reference) + "/role" }

    private static func escape(_ segment: String) -> String {
        String(segment.unicodeScalars.flatMap { scalar -> [Character] in
            let ascii = scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-_.".unicodeScalars.contains(scalar))
            return ascii ? [Character(scalar)] : String(scalar).utf8.flatMap { Array(String(format: "%%%02X", $0)) }
        })
    }
    public static func resume(_ queue: String) -> String { "/v1/queues/\(queue)/resume" }
}

/// `GET /v1/status`: what `chatctl status` shows.
public struct StatusReport: Codable, Sendable, Equatable {
    public var version: String
    public var startedAt: Millis
    public var uptimeSeconds: Int64
    public var connections: Int
    public var usersOnline: Int
    /// Messages sent since midnight in the configured time zone.
    public var messagesToday: Int64
    public var queues: [QueueStatus]
    public var disk: DiskStatus
    public var walBytes: Int64
    public var databaseBytes: Int64
    /// Things an operator should look at, each with what to do.
    public var warnings: [String]
    /// The alert rules firing now (`chatd_alert_firing`), by name.
    public var alerts: [String]
    /// The daemon's open files and their limit (each socket is one), and whether libvips refuses risky loaders.
    public var openFiles: Int
    public var maxOpenFiles: Int
    public var imageLoadersRestricted: Bool
    /// Each push vendor: configured or not, and whether it takes chatd's credentials.
    public var push: [PushProviderReport]

    public init(
        version: String, startedAt: Millis, uptimeSeconds: Int64, connections: Int, usersOnline: Int,
        messagesToday: Int64, queues: [QueueStatus], disk: DiskStatus, walBytes: Int64, databaseBytes: Int64,
        warnings: [String], alerts: [String] = [], openFiles: Int = 0, maxOpenFiles: Int = 0,
        imageLoadersRestricted: Bool = true, push: [PushProviderReport] = []
    ) {
        self.push = push
        self.alerts = alerts
        self.openFiles = openFiles
        self.maxOpenFiles = maxOpenFiles
        self.imageLoadersRestricted = imageLoadersRestricted
        self.version = version
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.connections = connections
        self.usersOnline = usersOnline
        self.messagesToday = messagesToday
        self.queues = queues
        self.disk = disk
        self.walBytes = walBytes
        self.databaseBytes = databaseBytes
        self.warnings = warnings
    }
}

/// One job queue's depth and this process's counters.
public struct QueueStatus: Codable, Sendable, Equatable {
    public var depth: QueueDepth
    public var completed: Int
    public var failedAttempts: Int
    public var buried: Int

    public init(depth: QueueDepth, completed: Int, failedAttempts: Int, buried: Int) {
        self.depth = depth
        self.completed = completed
        self.failedAttempts = failedAttempts
        self.buried = buried
    }
}

/// The file system that holds the data directory.
public struct DiskStatus: Codable, Sendable, Equatable {
    public var path: String
    public var totalBytes: Int64
    public var freeBytes: Int64

    public init(path: String, totalBytes: Int64, freeBytes: Int64) {
        self.path = path
        self.totalBytes = totalBytes
        self.freeBytes = freeBytes
    }

    /// How full it is, 0 to 1.
    public var usedFraction: Double { totalBytes > 0 ? Double(totalBytes - freeBytes) / Double(totalBytes) : 0 }
}

/// `POST /v1/jobs/purge`'s answer.
public struct PurgeResult: Codable, Sendable, Equatable {
    public var purged: Int
    public init(purged: Int) { self.purged = purged }
}

/// The error body the admin API answers with, as the public API does: `{"error":{"code","message"}}`.
public struct AdminErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var code: String
        public var message: String
    }
    public var error: Detail
}

/// A user as `chatctl user show` sees them: the account and its sessions.
public struct UserReport: Codable, Sendable, Equatable {
    public var account: AccountSummary
    public var sessions: [SessionSummary]

    public init(account: AccountSummary, sessions: [SessionSummary]) {
        self.account = account
        self.sessions = sessions
    }
}

/// What disabling or kicking ended.
public struct SessionsEnded: Codable, Sendable, Equatable {
    public var endedSessions: Int
    public init(endedSessions: Int) { self.endedSessions = endedSessions }
}

/// `chatctl conversation show`: a conversation and its members.
public struct ConversationReport: Codable, Sendable, Equatable {
    public var conversation: ConversationSummary
    public var members: [Member]

    public init(conversation: ConversationSummary, members: [Member]) {
        self.conversation = conversation
        self.members = members
    }
}

/// `chatctl media stats`: media by kind and status, and the folder's size on disk.
public struct MediaReport: Codable, Sendable, Equatable {
    public var kinds: [MediaStatistic]
    public var folderBytes: Int64
    public var diskFreeBytes: Int64

    public init(kinds: [MediaStatistic], folderBytes: Int64, diskFreeBytes: Int64) {
        self.kinds = kinds
        self.folderBytes = folderBytes
        self.diskFreeBytes = diskFreeBytes
    }
}

/// `chatctl media gc`: what a cleanup pass did and found.
public struct CleanupReport: Codable, Sendable, Equatable {
    public var abandonedUploads: Int
    public var purgedMedia: Int
    public var purgedTexts: Int
    public var staleWorkingFiles: Int
    public var filesWithoutRecords: [String]
    public var recordsWithoutFiles: [Int64]

    public init(
        abandonedUploads: Int, purgedMedia: Int, purgedTexts: Int, staleWorkingFiles: Int,
        filesWithoutRecords: [String], recordsWithoutFiles: [Int64]
    ) {
        self.abandonedUploads = abandonedUploads
        self.purgedMedia = purgedMedia
        self.purgedTexts = purgedTexts
        self.staleWorkingFiles = staleWorkingFiles
        self.filesWithoutRecords = filesWithoutRecords
        self.recordsWithoutFiles = recordsWithoutFiles
    }
}

extension DiskStatus {
    /// The file system of `path`, from statvfs.
    public static func of(_ path: String) -> DiskStatus {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return DiskStatus(path: path, totalBytes: 0, freeBytes: 0) }
        let block = Int64(info.f_frsize)
        return DiskStatus(
            path: URL(fileURLWithPath: path).standardizedFileURL.path, totalBytes: Int64(info.f_blocks) * block,
            freeBytes: Int64(info.f_bavail) * block)
    }
}
