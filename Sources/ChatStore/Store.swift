import ChatCore
import Foundation
import GRDB

/// chatd's store on SQLite: the database engine and, on it, one repository per aggregate. The wiring opens one and
/// hands its repositories, as the protocols of `ChatCore`, to the services.
///
/// Every write method of a repository is an invariant-preserving transaction of the domain: it authorizes against
/// membership, changes rows and appends events (and enqueues jobs) in one transaction of the group-committing
/// writer, so a failed write leaves nothing behind. Reads run concurrently on the pool's readers.
public final class Store: StoreMaintenance {
    public let limits: StoreLimits
    let database: StoreDatabase
    public let accounts: SQLiteAccounts
    public let conversations: SQLiteConversations
    public let messages: SQLiteMessages
    public let events: SQLiteEventLog
    public let jobs: SQLiteJobs
    public let notifications: SQLiteNotifications
    public let push: SQLitePush
    public let media: SQLiteMedia
    public let usage: SQLiteUsage

    /// Opens (creating if needed) `directory/chatd.sqlite` and migrates it.
    /// Refuses a database written by a newer chatd. With `shipping`, its WAL is shipped for point-in-time recovery.
    public init(
        directory: URL, durability: Durability = .full, limits: StoreLimits = StoreLimits(),
        shipping: WALShipping? = nil
    ) throws {
        let database = try StoreDatabase(directory: directory, durability: durability, shipping: shipping)
        self.database = database
        self.limits = limits
        accounts = SQLiteAccounts(database: database)
        conversations = SQLiteConversations(database: database, maxGroupMembers: limits.maxGroupMembers)
        messages = SQLiteMessages(database: database)
        events = SQLiteEventLog(database: database)
        jobs = SQLiteJobs(database: database)
        notifications = SQLiteNotifications(database: database)
        push = SQLitePush(database: database)
        media = SQLiteMedia(database: database)
        usage = SQLiteUsage(database: database)
    }

    /// Where committed events go (the realtime hub). Set once at start-up.
    public func setEventPublisher(_ publisher: (any EventPublisher)?) {
        database.writer.setPublishers { $0.events = publisher }
    }

    /// Where the jobs of committed writes go (the job runner). Set once at start-up.
    public func setJobPublisher(_ publisher: (any JobPublisher)?) {
        database.writer.setPublishers { $0.jobs = publisher }
    }

    /// How many transactions the writer has committed and how many writes they carried: their ratio is the
    /// group-commit batch size.
    public var writeStatistics: (transactions: Int, writes: Int) {
        (
            database.writer.committedTransactions.load(ordering: .relaxed),
            database.writer.committedWrites.load(ordering: .relaxed)
        )
    }

    /// Reports each group commit's duration and size (for metrics). Set once at start-up.
    public func observeCommits(_ observer: @escaping @Sendable (Duration, Int) -> Void) {
        database.writer.observeCommits(observer)
    }

    /// Reports each checkpoint that copied anything into the database file: its duration and the WAL frames it copied
    /// (a page written twice in the log is two frames; for metrics).
    /// Set once at start-up.
    public func observeCheckpoints(_ observer: @escaping @Sendable (Duration, Int) -> Void) {
        database.checkpointer.observer.set { observer($0.0, $0.1) }
    }

    public var eventRetentionDays: Int { limits.eventRetentionDays }

    /// Moves the WAL back into the database file and truncates it; for quiet moments and before backups.
    public func checkpoint() async throws {
        try await database.checkpointer.truncate()
    }

    /// Frees the SQLite page caches and closes idle readers (they reopen on demand), after a load spike.
    public func releaseMemory() {
        database.pool.releaseMemoryEventually()
    }

    public func close() throws {
        try database.close()
    }

    /// Message ids grow with time (one writer), so the first message at or after `since` is found by bisecting
    /// ids: a few dozen point reads, whatever the table's size.
    public func messageCount(since: Millis) async throws -> Int64 {
        try await database.read { db in
            guard let last = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM messages") else { return 0 }
            let firstAtOrAfter = try db.cachedStatement(
                sql: "SELECT id, created_at FROM messages WHERE id >= ? ORDER BY id LIMIT 1")
            var low: Int64 = 1
            var high = last + 1
            while low < high {
                let middle = low + (high - low) / 2
                guard let row = try Row.fetchOne(firstAtOrAfter, arguments: [middle]) else {
                    high = middle
                    continue
                }
                let at: Millis = row[1]
                if at >= since { high = middle } else { low = (row[0] as Int64) + 1 }
            }
            let first = try Int64.fetchOne(db, sql: "SELECT MIN(id) FROM messages WHERE id >= ?", arguments: [low])
            guard let first else { return 0 }
            return try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM messages WHERE id >= ?", arguments: [first]) ?? 0
        }
    }

    public func probeWrite() async throws {
        try await database.write { context in
            // A write lock taken and given back: nothing changes, nothing is synced.
            _ = try Int.fetchOne(context.db, sql: "SELECT 1")
        }
    }

    public func fileSizes() -> (database: Int64, wal: Int64) {
        func size(_ path: String) -> Int64 {
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        }
        return (size(database.path), size(database.path + "-wal"))
    }
}

/// Limits the store enforces inside its transactions (the input rules live in the services that call it).
public struct StoreLimits: Sendable {
    public var maxGroupMembers: Int
    /// Events older than this are pruned; a sync from before them answers `reset_required`.
    public var eventRetentionDays: Int

    public init(maxGroupMembers: Int = 1000, eventRetentionDays: Int = 30) {
        self.maxGroupMembers = maxGroupMembers
        self.eventRetentionDays = eventRetentionDays
    }
}
