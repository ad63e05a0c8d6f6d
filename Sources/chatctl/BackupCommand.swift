import ArgumentParser
import ChatAdmin
import ChatConfiguration
import ChatCore
import ChatStore
import Foundation
import GRDB

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Snapshots of the database (with a manifest of the media), and restoring them.",
        discussion: """
            create and list talk to the daemon; verify and restore work offline on the backup folder (restore needs \
            chatd stopped). With [backup] wal_directory set, restore --at TIME rebuilds any moment since the oldest \
            kept snapshot.
            """,
        subcommands: [Create.self, List.self, Verify.self, RestoreCommand.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a snapshot now (online; writes go on).")
        @OptionGroup var daemon: DaemonOptions

        func run() async throws {
            try await chatctl.run {
                let report = try await daemon.client().post(AdminAPI.backups, as: BackupReport.self)
                if daemon.json { return Output.json(report) }
                print(
                    "backup \(report.name): \(Output.bytes(report.databaseBytes)), \(report.messages) message(s), "
                        + "\(report.mediaFiles) media file(s) listed, in \(Double(report.completedAt - report.createdAt) / 1000) s")
                if let status = report.postCommandStatus, status != 0 { print("post-backup command failed: exit status \(status)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The snapshots kept, and the span the WAL archive can replay.")
        @OptionGroup var daemon: DaemonOptions

        func run() async throws {
            try await chatctl.run {
                let report = try await daemon.client().get(AdminAPI.backups, as: BackupsReport.self)
                if daemon.json { return Output.json(report) }
                Output.table(
                    ["NAME", "TAKEN", "SIZE", "MESSAGES", "MEDIA", "PITR", "POST"],
                    report.snapshots.map {
                        [
                            $0.name, Output.time($0.createdAt), Output.bytes($0.databaseBytes), "\($0.messages)",
                            "\($0.mediaFiles) (\(Output.bytes($0.mediaBytes)))", $0.replayable ? "yes" : "no",
                            $0.postCommandStatus.map { $0 == 0 ? "ok" : "exit \($0)" } ?? "-",
                        ]
                    })
                print("folder: \(report.directory)")
                if let first = report.walFirstCommitAt, let last = report.walLastCommitAt {
                    print("WAL archive \(report.walDirectory ?? ""): commits from \(Output.time(first)) to \(Output.time(last)), \(Output.bytes(report.walBytes ?? 0))")
                } else if report.walDirectory == nil {
                    print("point-in-time recovery is off: set [backup] wal_directory")
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a snapshot offline: SQLite's integrity check, its counts against its manifest, its media files on disk.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The snapshot's name (default: the newest).") var name: String?

        struct Report: Codable {
            var name: String
            var integrity: String
            var countsMatch: Bool
            var messages: Int64
            var mediaListed: Int
            var mediaMissing: [String]
            var ok: Bool
        }

        func run() async throws {
            let config = try daemon.loadConfig()
            let folder = SnapshotFolder(directory: URL(fileURLWithPath: config.backupDirectory))
            let manifest = try Backups.choose(name, in: folder)
            let file = folder.folder(manifest.name).appendingPathComponent(StoreDatabase.fileName)
            let (integrity, counts) = try Backups.inspect(file)
            let media = URL(fileURLWithPath: config.storage.dataDirectory).appendingPathComponent("media")
            let missing = manifest.media.filter { entry in
                let size = (try? FileManager.default.attributesOfItem(atPath: media.appendingPathComponent(entry.path).path)[.size] as? Int)
                return size.map { Int64($0) != entry.bytes } ?? true
            }.map(\.path)
            let report = Report(
                name: manifest.name, integrity: integrity, countsMatch: counts == manifest.counts,
                messages: counts.messages, mediaListed: manifest.media.count, mediaMissing: missing,
                ok: integrity == "ok" && counts == manifest.counts)
            if daemon.json {
                Output.json(report)
            } else {
                print("backup \(report.name) (offline check)")
                print("integrity: \(integrity)")
                print("counts: \(report.countsMatch ? "as the manifest says" : "DIFFER from the manifest") (\(counts.messages) messages, \(counts.users) users)")
                print("media: \(manifest.media.count) file(s) listed, \(missing.count) missing or changed on disk")
                for path in missing.prefix(20) { print("  missing: \(path)") }
            }
            if !report.ok { throw ExitCode(1) }
        }
    }
}

/// `chatctl backup restore` and `chatctl restore`: offline, chatd stopped.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put a snapshot (or the state at a moment) in place of the database; chatd must be stopped.",
        discussion: """
            The current database is kept aside as <data_dir>/db.before-restore-<time>; the WAL archive starts a new \
            history (the old one is kept in its folder). TIME is ISO 8601 (2026-12-02T14:30:00Z, or with an offset).
            """)
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The snapshot's name (default: the newest; with --at, the newest before TIME).") var name: String?
    @Option(name: .long, help: "Rebuild the state as of this moment from a snapshot and the WAL archive.") var at: String?

    struct Report: Codable {
        var snapshot: String
        var restoredTo: Millis
        var transactionsReplayed: Int
        var messages: Int64
        var previousDataKeptAt: String
    }

    func run() async throws {
        let config = try daemon.loadConfig()
        if (try? await AdminClient(socket: daemon.socket ?? config.adminSocketPath).get(AdminAPI.status, as: StatusReport.self)) != nil {
            Output.error("chatd is running: stop it first (systemctl stop chatd), then restore")
            throw ExitCode(1)
        }
        let folder = SnapshotFolder(directory: URL(fileURLWithPath: config.backupDirectory))
        let data = URL(fileURLWithPath: config.storage.dataDirectory)
        let archive = config.backup.walDirectory.isEmpty ? nil : URL(fileURLWithPath: config.backup.walDirectory)
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let building = data.appendingPathComponent(".db.restore-\(stamp)", isDirectory: true)
        try FileManager.default.createDirectory(at: building, withIntermediateDirectories: true)
        let built = building.appendingPathComponent(StoreDatabase.fileName)
        let manifest: SnapshotManifest
        var outcome = PointInTimeRestore.Outcome(transactions: 0, restoredTo: 0)
        do {
            if let at {
                guard let time = Backups.parseTime(at) else {
                    Output.error("--at \(at): not a time; write 2026-12-02T14:30:00Z")
                    throw ExitCode(64)
                }
                guard let archive else {
                    Output.error("--at needs the WAL archive: set [backup] wal_directory")
                    throw ExitCode(78)
                }
                guard let chosen = try PointInTimeRestore.snapshot(for: time, among: folder.list(), archive: archive) else {
                    Output.error("no snapshot of this WAL archive was complete by \(Output.time(time))")
                    throw ExitCode(1)
                }
                manifest = chosen
                outcome = try PointInTimeRestore(
                    snapshot: chosen, snapshotFile: folder.folder(chosen.name).appendingPathComponent(StoreDatabase.fileName),
                    archive: archive
                ).build(at: time, into: built)
            } else {
                manifest = try Backups.choose(name, in: folder)
                try FileManager.default.copyItem(
                    at: folder.folder(manifest.name).appendingPathComponent(StoreDatabase.fileName), to: built)
                outcome.restoredTo = manifest.createdAt
            }
            let (integrity, counts) = try Backups.inspect(built)
            guard integrity == "ok" else {
                Output.error("the rebuilt database fails its integrity check (\(integrity)); nothing was changed")
                throw ExitCode(1)
            }
            let current = data.appendingPathComponent("db", isDirectory: true)
            let aside = data.appendingPathComponent("db.before-restore-\(stamp)", isDirectory: true)
            try Backups.matchOwner(of: building, to: FileManager.default.fileExists(atPath: current.path) ? current : data)
            if FileManager.default.fileExists(atPath: current.path) {
                try FileManager.default.moveItem(at: current, to: aside)
            }
            try FileManager.default.moveItem(at: building, to: current)
            if let archive { try WALArchive.startNewLineage(archive, stamp: stamp) }
            let report = Report(
                snapshot: manifest.name, restoredTo: outcome.restoredTo, transactionsReplayed: outcome.transactions,
                messages: counts.messages, previousDataKeptAt: aside.path)
            if daemon.json { return Output.json(report) }
            print("restored \(manifest.name)\(at == nil ? "" : " and \(outcome.transactions) later transaction(s)"), as of \(Output.time(outcome.restoredTo))")
            print("\(counts.messages) message(s), \(counts.users) user(s); the previous data is in \(aside.path)")
            print("start chatd (systemctl start chatd)")
        } catch {
            try? FileManager.default.removeItem(at: building)
            if error is ExitCode { throw error }
            Output.error("restore failed, nothing was changed: \(error)")
            throw ExitCode(1)
        }
    }
}

/// What the offline backup commands share.
enum Backups {
    static func choose(_ name: String?, in folder: SnapshotFolder) throws -> SnapshotManifest {
        let all = try folder.list()
        if let name {
            guard let found = all.first(where: { $0.name == name }) else {
                Output.error("no backup \(name) in \(folder.directory.path)")
                throw ExitCode(1)
            }
            return found
        }
        guard let newest = all.last else {
            Output.error("no backups in \(folder.directory.path)")
            throw ExitCode(1)
        }
        return newest
    }

    /// SQLite's integrity check and the counts, on a database file opened read-only.
    static func inspect(_ file: URL) throws -> (String, SnapshotManifest.Counts) {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.prepareDatabase { StoreDatabase.prepareConnection($0) }
        let queue = try DatabaseQueue(path: file.path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read { db in
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
            return (integrity, try Store.counts(db))
        }
    }

    static func parseTime(_ text: String) -> Millis? {
        let formatter = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return Millis((date.timeIntervalSince1970 * 1000).rounded()) }
        }
        return nil
    }

    /// The restored files belong to whoever owned the data before (chatd's user, when root restores).
    static func matchOwner(of folder: URL, to reference: URL) throws {
        let attributes = try FileManager.default.attributesOfItem(atPath: reference.path)
        guard let owner = attributes[.ownerAccountID] as? NSNumber, let group = attributes[.groupOwnerAccountID] as? NSNumber
        else { return }
        for path in [folder.path] + (try FileManager.default.subpathsOfDirectory(atPath: folder.path)).map({ folder.appendingPathComponent($0).path }) {
            try FileManager.default.setAttributes([.ownerAccountID: owner, .groupOwnerAccountID: group], ofItemAtPath: path)
        }
    }
}
