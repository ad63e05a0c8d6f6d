import ChatCore
import ChatFiles
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// What a snapshot holds, written beside its database as `manifest.json`.
public struct SnapshotManifest: Codable, Sendable, Equatable {
    public struct Counts: Codable, Sendable, Equatable {
        public var users: Int64
        public var conversations: Int64
        public var messages: Int64
        public var lastEventId: Int64
    }

    public struct MediaFile: Codable, Sendable, Equatable {
        /// Relative to the media folder.
        public var path: String
        public var bytes: Int64
    }

    public struct PostCommand: Codable, Sendable, Equatable {
        public var command: String
        public var exitStatus: Int32
        /// The end of its output, for `backup list` and the alert.
        public var output: String

        public init(command: String, exitStatus: Int32, output: String) {
            self.command = command
            self.exitStatus = exitStatus
            self.output = output
        }
    }

    public var name: String
    /// When the copy began and when it was complete: it holds every commit acknowledged before `createdAt`.
    public var createdAt: Millis
    public var completedAt: Millis
    public var chatdVersion: String
    public var databaseBytes: Int64
    public var counts: Counts
    /// Point-in-time recovery: the archive this snapshot belongs to, and the position its replay starts from.
    public var walLineage: String?
    public var walStart: WALShipper.Position?
    public var media: [MediaFile]
    public var postCommand: PostCommand?

    public var mediaBytes: Int64 { media.reduce(0) { $0 + $1.bytes } }
}

/// Snapshots in a folder: `<folder>/<UTC stamp>/{chatd.sqlite, manifest.json}`, each complete or absent (built under a
/// dotted name, then renamed).
public struct SnapshotFolder: Sendable {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    static let manifestName = "manifest.json"

    public func folder(_ name: String) -> URL { directory.appendingPathComponent(name, isDirectory: true) }

    /// `20261202T040000Z`: names sort by time.
    static func name(at time: Millis) -> String {
        let date = Date(timeIntervalSince1970: Double(time) / 1000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        return "\(parts.year ?? 0)\(two(parts.month))\(two(parts.day))T\(two(parts.hour))\(two(parts.minute))\(two(parts.second))Z"
    }

    /// Every complete snapshot, oldest first.
    public func list() throws -> [SnapshotManifest] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { !$0.hasPrefix(".") }
            .compactMap { name in try? manifest(name) }
            .sorted { $0.createdAt < $1.createdAt }
    }

    public func manifest(_ name: String) throws -> SnapshotManifest {
        let data = try Data(contentsOf: folder(name).appendingPathComponent(Self.manifestName))
        return try ChatJSON.decoder().decode(SnapshotManifest.self, from: data)
    }

    func write(_ manifest: SnapshotManifest, in folder: URL) throws {
        let encoder = ChatJSON.encoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DurableFile.write(try encoder.encode(manifest), to: folder.appendingPathComponent(Self.manifestName))
    }

    /// Removes all but the `keep` newest; returns the names removed.
    public func prune(keep: Int) throws -> [String] {
        let all = try list()
        let old = all.dropLast(keep)
        for manifest in old { try FileManager.default.removeItem(at: folder(manifest.name)) }
        return old.map(\.name)
    }

    /// Records a post-backup command's outcome in the snapshot's manifest.
    public func record(_ command: SnapshotManifest.PostCommand, for name: String) throws {
        var manifest = try manifest(name)
        manifest.postCommand = command
        try write(manifest, in: folder(name))
    }
}

extension Store {
    /// Takes an online snapshot into `folder`: SQLite's backup API inside one read transaction, so the copy is
    /// consistent and the writer never waits for it (WAL readers do not block the writer). Then the manifest: counts,
    /// the media files, and where point-in-time replay starts.
    ///
    /// The copy is written back to the disk `pagesPerStep` pages at a time. Written in one go, hundreds of MB of dirty
    /// pages sat in the page cache until the final fsync, and the writer's own fsync (ext4 commits its journal for
    /// both) waited behind them: sends stalled for half a second (`chatbench backup`).
    public func snapshot(
        into snapshots: SnapshotFolder, mediaRoot: URL?, now: @escaping @Sendable () -> Millis = Clock.nowMillis
    )
        async throws -> SnapshotManifest
    {
        let database = self.database
        return try await withCheckedThrowingContinuation { continuation in
            // Its own thread, at a lower priority: the copy keeps a core busy for seconds, and the writer's thread
            // and the sends' must not wait for it.
            Thread.detachNewThread {
                // On Linux a nice value is per thread: 0 names the calling one.
                setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
                continuation.resume(
                    with: Result {
                        try Self.snapshot(database: database, into: snapshots, mediaRoot: mediaRoot, now: now)
                    })
            }
        }
    }

    private static func snapshot(
        database: StoreDatabase, into snapshots: SnapshotFolder, mediaRoot: URL?, now: () -> Millis
    ) throws -> SnapshotManifest {
        let createdAt = now()
        let walStart = database.shipper?.committedPosition
        var name = SnapshotFolder.name(at: createdAt)
        if FileManager.default.fileExists(atPath: snapshots.folder(name).path) { name += "-\(createdAt % 1000)" }
        let building = snapshots.directory.appendingPathComponent(".\(name).part", isDirectory: true)
        try? FileManager.default.removeItem(at: building)
        try FileManager.default.createDirectory(
            at: building, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            let file = building.appendingPathComponent(StoreDatabase.fileName)
            let copy = try DatabaseQueue(path: file.path)
            // No journal for a file being built: a crash leaves a `.part` folder, which the next snapshot removes.
            try copy.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
            }
            let written = open(file.path, O_RDONLY)
            defer { if written >= 0 { Glibc.close(written) } }
            try database.pool.backup(to: copy, pagesPerStep: Self.pagesPerStep) { _ in
                if written >= 0 { fdatasync(written) }
                // A breath between steps, so the writer's own syncs find the disk idle.
                usleep(Self.pauseBetweenSteps)
            }
            // A snapshot is a plain file: readable without -wal and -shm beside it.
            try copy.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            let counts = try copy.read { db in try Store.counts(db) }
            try copy.close()
            try DurableFile.fsync(file)
            let manifest = SnapshotManifest(
                name: name, createdAt: createdAt, completedAt: now(), chatdVersion: ChatdVersion.current,
                databaseBytes: Int64((try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0),
                counts: counts,
                walLineage: database.shipper.flatMap { try? WALArchive.lineage(of: $0.archive) },
                walStart: walStart, media: mediaRoot.map(mediaFiles) ?? [], postCommand: nil)
            try snapshots.write(manifest, in: building)
            try DurableFile.commit(building, to: snapshots.folder(name))
            return manifest
        } catch {
            try? FileManager.default.removeItem(at: building)
            throw error
        }
    }

    /// 1 MiB of 4 KiB pages between two write-backs of the snapshot.
    static let pagesPerStep: CInt = 256
    /// Microseconds between two steps: about a third more time for the copy (a MiB takes 5–8 ms here).
    static let pauseBetweenSteps: UInt32 = 2_000

    public static func counts(_ db: Database) throws -> SnapshotManifest.Counts {
        SnapshotManifest.Counts(
            users: try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM users") ?? 0,
            conversations: try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM conversations") ?? 0,
            messages: try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM messages") ?? 0,
            lastEventId: try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM events") ?? 0)
    }

    /// The media folder's files (not the half-written ones), relative to it.
    static func mediaFiles(_ root: URL) -> [SnapshotManifest.MediaFile] {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.fileSizeKey, .isRegularFileKey])
        else { return [] }
        var files: [SnapshotManifest.MediaFile] = []
        let prefix = root.standardizedFileURL.path + "/"
        for case let url as URL in walker {
            guard let values = try? url.resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey]),
                values.isRegularFile == true, !url.lastPathComponent.hasPrefix(".")
            else { continue }
            let path = url.standardizedFileURL.path
            files.append(.init(path: path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path, bytes: Int64(values.fileSize ?? 0)))
        }
        return files.sorted { $0.path < $1.path }
    }

    /// The WAL shipper, when point-in-time recovery is on.
    public var walShipper: WALShipper? { database.shipper }

    /// The checkpoints that copied something lately, and with WAL shipping the writer's time in their barriers.
    public var checkpointFigures: CheckpointFigures { database.checkpointer.figures }
}
