import ChatCore
import Foundation
import GRDB

/// How hard a commit waits for the disk. `full` (the default) makes every acknowledged write survive power loss.
public enum Durability: String, Sendable, CaseIterable {
    case full, normal

    /// The value of SQLite's `PRAGMA synchronous` for this durability.
    var pragmaValue: String { self == .full ? "FULL" : "NORMAL" }
}

/// The store: one SQLite database in WAL mode, one group-committing writer, parallel readers.
///
/// Its write methods are the invariant-preserving transactions of the domain (`sendMessage`, `addMembers`, …): each
/// authorizes against membership, changes rows and appends events in one transaction, so a failed write leaves
/// nothing behind. Reads run concurrently on the pool's readers.
public final class Store: Sendable {
    public let limits: StoreLimits
    let pool: DatabasePool
    let writer: GroupCommitWriter
    let checkpointer: Checkpointer

    /// Opens (creating if needed) `directory/chatd.sqlite` and migrates it.
    /// Refuses a database written by a newer chatd.
    public init(directory: URL, durability: Durability = .full, limits: StoreLimits = StoreLimits()) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        config.maximumReaderCount = 4
        config.label = "chatd"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability.pragmaValue)")
            // SQLite's default page cache (2 MiB) makes the writer re-read index pages from the OS on every send once
            // the database outgrows it; the writer touches the hot end of every index, so it gets more.
            let cacheKiB = db.configuration.readonly ? 16 * 1024 : 64 * 1024
            try db.execute(sql: "PRAGMA cache_size = -\(cacheKiB)")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Checkpointer.writerBackstopPages)")
        }
        let path = directory.appendingPathComponent("chatd.sqlite").path
        let pool = try DatabasePool(path: path, configuration: config)
        // GRDB turns WAL on for the writer after `prepareDatabase` and sets `synchronous = NORMAL` with it, which
        // would leave every commit unsynced until the next checkpoint. The writer's setting is the one that counts.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability.pragmaValue)")
        }
        let migrator = Migrations.migrator
        let superseded = try pool.read { try migrator.hasBeenSuperseded($0) }
        if superseded {
            throw StoreError(
                "the database at \(path) was written by a newer version of chatd; refusing to open it. "
                    + "Upgrade chatd, or restore a backup made by this version.")
        }
        try migrator.migrate(pool)
        self.checkpointer = try Checkpointer(path: path, configuration: config)
        self.pool = pool
        self.limits = limits
        self.writer = GroupCommitWriter(pool: pool, publisher: nil)
    }

    /// Where committed events go (the realtime hub). Set once at start-up.
    public func setEventPublisher(_ publisher: (any EventPublisher)?) {
        writer.setPublisher(publisher)
    }

    /// How many transactions the writer has committed and how many writes they carried: their ratio is the
    /// group-commit batch size.
    public var writeStatistics: (transactions: Int, writes: Int) {
        (writer.committedTransactions.load(ordering: .relaxed), writer.committedWrites.load(ordering: .relaxed))
    }

    /// Runs a write in the next group commit; see `GroupCommitWriter`.
    func write<T: Sendable>(_ work: @escaping @Sendable (Database, EventLog) throws -> T) async throws -> T {
        try await writer.write(work)
    }

    /// Runs a read on one of the pool's readers, off the caller's thread.
    func read<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.read(work)
    }

    /// Moves the WAL back into the database file and truncates it; for quiet moments and before backups.
    public func checkpoint() async throws {
        try await checkpointer.truncate()
    }

    public func close() throws {
        try checkpointer.stop()
        try pool.close()
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

/// A failure of the store itself (not of the client's request): opening, migrating, a newer schema.
public struct StoreError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
