import ChatCore
import Foundation
import GRDB

/// How hard a commit waits for the disk. `full` (the default) makes every acknowledged write survive power loss.
public enum Durability: String, Sendable, CaseIterable {
    case full, normal

    /// The value of SQLite's `PRAGMA synchronous` for this durability.
    var pragmaValue: String { self == .full ? "FULL" : "NORMAL" }
}

/// The database engine under the repositories: one SQLite file in WAL mode, migrated on open, parallel readers, one
/// group-committing writer and a checkpointer beside it. Repositories run their reads and writes through it.
public final class StoreDatabase: Sendable {
    let pool: DatabasePool
    let writer: GroupCommitWriter
    let checkpointer: Checkpointer
    /// `directory/chatd.sqlite`.
    let path: String
    /// Point-in-time recovery: the WAL's shipper, and the hook that tells it of each commit (kept alive here).
    let shipper: WALShipper?
    private let hook: WALHook?

    /// Opens (creating if needed) `directory/chatd.sqlite` and migrates it. Refuses a database written by a newer
    /// chatd. With `shipping`, WAL frames go to its archive and only the `Checkpointer` checkpoints, never past the shipped end.
    init(directory: URL, durability: Durability, shipping: WALShipping? = nil) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        config.maximumReaderCount = 4
        config.label = "chatd"
        config.prepareDatabase { db in
            Self.prepareConnection(db)
            try db.execute(sql: "PRAGMA synchronous = \(durability.pragmaValue)")
            // SQLite's default page cache (2 MiB) makes the writer re-read index pages from the OS on every send once
            // the database outgrows it; the writer touches the hot end of every index, so it gets more.
            let cacheKiB = db.configuration.readonly ? 16 * 1024 : 64 * 1024
            try db.execute(sql: "PRAGMA cache_size = -\(cacheKiB)")
            // Shipping: no connection checkpoints on its own, or a reset of the log could overwrite unshipped frames.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(shipping == nil ? Checkpointer.writerBackstopPages : 0)")
        }
        let path = directory.appendingPathComponent(Self.fileName).path
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
        try pool.write { db in _ = try SearchTokenizer.keepIndexCurrent(db) }
        self.path = path
        self.pool = pool
        let writer = GroupCommitWriter(pool: pool)
        self.writer = writer
        if let shipping {
            let shipper = try WALShipper(databasePath: path, archive: shipping.archive)
            try shipper.catchUp(now: Clock.nowMillis())
            let hook = WALHook(shipper: shipper)
            try pool.writeWithoutTransaction { db in hook.install(on: db) }
            self.shipper = shipper
            self.hook = hook
            checkpointer = try Checkpointer(
                path: path, configuration: config,
                mode: .shipping(shipper: shipper, every: shipping.interval, writer: writer, hook: hook))
        } else {
            shipper = nil
            hook = nil
            checkpointer = try Checkpointer(path: path, configuration: config, mode: .periodic)
        }
    }

    /// The database file's name in its folder.
    public static let fileName = "chatd.sqlite"

    /// Runs a write in the next group commit; see `GroupCommitWriter`.
    func write<T: Sendable>(_ work: @escaping @Sendable (WriteContext) throws -> T) async throws -> T {
        try await writer.write(work)
    }

    /// Runs a read on one of the pool's readers, off the caller's thread.
    func read<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.read(work)
    }

    func close() throws {
        try checkpointer.stop()
        // What the last commits wrote is shipped before closing checkpoints the log into the file and removes it.
        try shipper?.ship()
        try pool.close()
    }
}

/// A failure of the store itself (not of the client's request): opening, migrating, a newer schema.
extension StoreDatabase {
    /// What any connection to chatd's database needs beyond SQLite itself: message search's tokenizer ("chatd",
    /// which `messages_fts` is tokenized by). A tool that opens the file with GRDB calls it from `prepareDatabase`;
    /// without it, SQLite answers "no such tokenizer: chatd" to anything that touches `messages_fts`.
    public static func prepareConnection(_ db: Database) {
        db.add(tokenizer: SearchTokenizer.self)
    }
}

/// Where the WAL is shipped and how often at most (the recovery point).
public struct WALShipping: Sendable {
    public var archive: URL
    public var interval: Duration

    public init(archive: URL, interval: Duration) {
        self.archive = archive
        self.interval = interval
    }
}

public struct StoreError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
