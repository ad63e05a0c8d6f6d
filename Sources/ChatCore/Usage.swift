/// What one day of use adds up to, for `chatctl stats`: counted as it happens, written to the store every minute.
public struct UsageCounts: Codable, Sendable, Equatable {
    public var messages: Int64 = 0
    public var uploads: Int64 = 0
    /// WebSocket sessions (authenticated) that ended, and their total length.
    public var sessions: Int64 = 0
    public var sessionSeconds: Int64 = 0
    /// Bytes the server sent: WebSocket frames and HTTP response bodies.
    public var egressBytes: Int64 = 0

    public init(
        messages: Int64 = 0, uploads: Int64 = 0, sessions: Int64 = 0, sessionSeconds: Int64 = 0, egressBytes: Int64 = 0
    ) {
        self.messages = messages
        self.uploads = uploads
        self.sessions = sessions
        self.sessionSeconds = sessionSeconds
        self.egressBytes = egressBytes
    }

    public static func + (a: UsageCounts, b: UsageCounts) -> UsageCounts {
        UsageCounts(
            messages: a.messages + b.messages, uploads: a.uploads + b.uploads, sessions: a.sessions + b.sessions,
            sessionSeconds: a.sessionSeconds + b.sessionSeconds, egressBytes: a.egressBytes + b.egressBytes)
    }

    public var isZero: Bool { self == UsageCounts() }
}

/// What to add to one day: counts, and users seen active that the store may not know of yet for that day.
public struct UsageDelta: Sendable, Equatable {
    /// `YYYY-MM-DD` in the server's time zone (`jobs.time_zone`).
    public var day: String
    public var counts: UsageCounts
    public var users: Set<UserID>

    public init(day: String, counts: UsageCounts = UsageCounts(), users: Set<UserID> = []) {
        self.day = day
        self.counts = counts
        self.users = users
    }
}

/// The disk's used bytes at a moment: two of them a day apart give its growth.
public struct DiskSample: Codable, Sendable, Equatable {
    public var at: Millis
    public var usedBytes: Int64

    public init(at: Millis, usedBytes: Int64) {
        self.at = at
        self.usedBytes = usedBytes
    }
}

/// One day as stored: its counts, how many distinct users were active, and the day's first and last disk sample.
public struct UsageDay: Codable, Sendable, Equatable {
    public var day: String
    public var activeUsers: Int
    public var counts: UsageCounts
    public var firstDisk: DiskSample?
    public var lastDisk: DiskSample?

    public init(
        day: String, activeUsers: Int, counts: UsageCounts, firstDisk: DiskSample? = nil, lastDisk: DiskSample? = nil
    ) {
        self.day = day
        self.activeUsers = activeUsers
        self.counts = counts
        self.firstDisk = firstDisk
        self.lastDisk = lastDisk
    }
}

/// The daily usage figures.
public protocol UsageRepository: Sendable {
    /// Adds the deltas to their days and records a disk sample (when the disk could be read) on `sampleDay`, in one
    /// transaction.
    func record(_ deltas: [UsageDelta], disk: DiskSample?, sampleDay: String) async throws
    /// The stored days from `first` through `last` (inclusive, `YYYY-MM-DD`), oldest first; days without a row are
    /// left out.
    func days(from first: String, through last: String) async throws -> [UsageDay]
}
