import ChatCore

extension AdminAPI {
    /// `GET /v1/stats?days=N`: the last N days (today included) and the headroom now.
    public static let stats = "/v1/stats"
}

/// `chatctl stats`: the original design's dashboard on one box.
public struct StatsReport: Codable, Sendable, Equatable {
    /// Oldest first, today last; a day with no use shows zeros.
    public var days: [DayStats]
    public var headroom: Headroom

    public init(days: [DayStats], headroom: Headroom) {
        self.days = days
        self.headroom = headroom
    }
}

/// One day (in the server's time zone, `jobs.time_zone`).
public struct DayStats: Codable, Sendable, Equatable {
    public var day: String
    /// Distinct users who signed in, called the API or connected that day.
    public var activeUsers: Int
    public var messages: Int64
    public var uploads: Int64
    /// WebSocket sessions that ended that day, and their average length.
    public var sessions: Int64
    public var averageSessionSeconds: Double?
    public var egressBytes: Int64

    public init(_ day: UsageDay) {
        self.day = day.day
        activeUsers = day.activeUsers
        messages = day.counts.messages
        uploads = day.counts.uploads
        sessions = day.counts.sessions
        averageSessionSeconds =
            day.counts.sessions > 0 ? Double(day.counts.sessionSeconds) / Double(day.counts.sessions) : nil
        egressBytes = day.counts.egressBytes
    }
}

/// How far the box is from its limits, and when the disk reaches its warning threshold at the recent rate.
public struct Headroom: Codable, Sendable, Equatable {
    public var connections: Int
    /// The open-file limit (each socket is one file) and the connections it leaves room for.
    public var maxOpenFiles: Int
    public var connectionsByFiles: Int
    public var residentBytes: Int64
    public var memoryBytes: Int64
    /// The memory alert's threshold (percent of the machine) and the connections that fit below it.
    public var memoryLimitPercent: Int
    /// What one more connection costs (measured when enough are open, else the benchmark's figure).
    public var bytesPerConnection: Int64
    public var bytesPerConnectionMeasured: Bool
    public var connectionsByMemory: Int
    /// The smaller of the two.
    public var maxConnections: Int
    public var diskUsedBytes: Int64
    public var diskTotalBytes: Int64
    public var diskWarningPercent: Int
    /// Growth per day over the days sampled (nil with less than an hour of samples).
    public var diskGrowthBytesPerDay: Double?
    /// When the disk reaches `diskWarningPercent` at that rate (nil when it is not growing or has no rate yet;
    /// today when it is already past it).
    public var diskWarningDate: String?
    public var daysUntilDiskWarning: Double?

    public init(
        connections: Int, maxOpenFiles: Int, connectionsByFiles: Int, residentBytes: Int64, memoryBytes: Int64,
        memoryLimitPercent: Int, bytesPerConnection: Int64, bytesPerConnectionMeasured: Bool, connectionsByMemory: Int,
        maxConnections: Int, diskUsedBytes: Int64, diskTotalBytes: Int64, diskWarningPercent: Int,
        diskGrowthBytesPerDay: Double?, diskWarningDate: String?, daysUntilDiskWarning: Double?
    ) {
        self.connections = connections
        self.maxOpenFiles = maxOpenFiles
        self.connectionsByFiles = connectionsByFiles
        self.residentBytes = residentBytes
        self.memoryBytes = memoryBytes
        self.memoryLimitPercent = memoryLimitPercent
        self.bytesPerConnection = bytesPerConnection
        self.bytesPerConnectionMeasured = bytesPerConnectionMeasured
        self.connectionsByMemory = connectionsByMemory
        self.maxConnections = maxConnections
        self.diskUsedBytes = diskUsedBytes
        self.diskTotalBytes = diskTotalBytes
        self.diskWarningPercent = diskWarningPercent
        self.diskGrowthBytesPerDay = diskGrowthBytesPerDay
        self.diskWarningDate = diskWarningDate
        self.daysUntilDiskWarning = daysUntilDiskWarning
    }
}
