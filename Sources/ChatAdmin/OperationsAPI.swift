import ChatCore

/// The answer to `POST /v1/reload` (SIGHUP does the same): what took effect, what waits for a restart.
public struct ReloadReport: Codable, Sendable, Equatable {
    public var applied: [String]
    public var needsRestart: [String]
    /// The certificate now served, when TLS is on.
    public var certificate: CertificateReport?

    public init(applied: [String], needsRestart: [String], certificate: CertificateReport?) {
        self.applied = applied
        self.needsRestart = needsRestart
        self.certificate = certificate
    }
}

/// A served certificate: whose, and until when.
public struct CertificateReport: Codable, Sendable, Equatable {
    public var subject: String
    public var notValidAfter: Millis
    public var daysLeft: Int

    public init(subject: String, notValidAfter: Millis, daysLeft: Int) {
        self.subject = subject
        self.notValidAfter = notValidAfter
        self.daysLeft = daysLeft
    }
}

/// `PUT /v1/certificate` (`chatctl cert import`): PEM text, read by chatctl (which may read what the daemon's user
/// cannot, such as certbot's live folder) and installed by the daemon over its configured files.
public struct CertificateImport: Codable, Sendable {
    public var chain: String
    public var key: String

    public init(chain: String, key: String) {
        self.chain = chain
        self.key = key
    }
}

extension AdminAPI {
    public static let backups = "/v1/backups"
}

/// One snapshot, as `chatctl backup list` shows it.
public struct BackupReport: Codable, Sendable, Equatable {
    public var name: String
    public var createdAt: Millis
    public var completedAt: Millis
    public var databaseBytes: Int64
    public var messages: Int64
    public var mediaFiles: Int
    public var mediaBytes: Int64
    /// Whether point-in-time replay can start from it.
    public var replayable: Bool
    public var postCommandStatus: Int32?

    public init(
        name: String, createdAt: Millis, completedAt: Millis, databaseBytes: Int64, messages: Int64, mediaFiles: Int,
        mediaBytes: Int64, replayable: Bool, postCommandStatus: Int32?
    ) {
        self.name = name
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.databaseBytes = databaseBytes
        self.messages = messages
        self.mediaFiles = mediaFiles
        self.mediaBytes = mediaBytes
        self.replayable = replayable
        self.postCommandStatus = postCommandStatus
    }
}

/// `GET /v1/backups`: the snapshots, and what the WAL archive can replay.
public struct BackupsReport: Codable, Sendable, Equatable {
    public var directory: String
    public var snapshots: [BackupReport]
    public var walDirectory: String?
    /// The first and last commit the archive holds, when shipping is on and has shipped.
    public var walFirstCommitAt: Millis?
    public var walLastCommitAt: Millis?
    public var walBytes: Int64?

    public init(
        directory: String, snapshots: [BackupReport], walDirectory: String?, walFirstCommitAt: Millis?,
        walLastCommitAt: Millis?, walBytes: Int64?
    ) {
        self.directory = directory
        self.snapshots = snapshots
        self.walDirectory = walDirectory
        self.walFirstCommitAt = walFirstCommitAt
        self.walLastCommitAt = walLastCommitAt
        self.walBytes = walBytes
    }
}
