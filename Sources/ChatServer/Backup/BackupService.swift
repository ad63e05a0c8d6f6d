import ChatConfiguration
import ChatCore
import ChatJobs
import ChatStore
import ChatSpawn
import Dispatch
import Foundation
import Logging
import Synchronization

/// Snapshots on demand (`chatctl backup create`) and daily (`backup.daily`): the snapshot, then the post-backup
/// command, then pruning to `backup.keep` snapshots and the WAL archive to what the oldest one needs. It remembers how
/// the last ones went, for the alerts.
final class BackupService: Sendable {
    struct Health: Sendable, Equatable {
        /// The newest complete snapshot (on disk, so it survives restarts).
        var lastSuccessAt: Millis?
        var lastFailure: String?
        /// The last post-backup command's exit status, when it failed.
        var postCommandFailure: String?
    }

    let store: Store
    let snapshots: SnapshotFolder
    let mediaRoot: URL
    let config: ChatConfig.Backup
    let logger: Logger
    private let health: Mutex<Health>
    /// One snapshot at a time (a `chatctl backup create` during the daily one waits).
    private let running = Mutex(())

    init(store: Store, config: ChatConfig, logger: Logger) {
        self.store = store
        snapshots = SnapshotFolder(directory: URL(fileURLWithPath: config.backupDirectory, isDirectory: true))
        mediaRoot = URL(fileURLWithPath: config.storage.dataDirectory).appendingPathComponent("media", isDirectory: true)
        self.config = config.backup
        self.logger = logger
        let newest = (try? snapshots.list())?.last
        var health = Health(lastSuccessAt: newest?.completedAt)
        if let command = newest?.postCommand, command.exitStatus != 0 {
            health.postCommandFailure = "exit status \(command.exitStatus)"
        }
        self.health = Mutex(health)
    }

    var current: Health { health.withLock { $0 } }

    func create() async throws -> SnapshotManifest {
        let manifest: SnapshotManifest
        do {
            manifest = try await store.snapshot(into: snapshots, mediaRoot: mediaRoot)
        } catch {
            health.withLock { $0.lastFailure = "\(error)" }
            logger.error("backup failed", metadata: ["error": "\(error)"])
            throw error
        }
        logger.notice(
            "backup taken",
            metadata: [
                "name": "\(manifest.name)", "bytes": "\(manifest.databaseBytes)", "messages": "\(manifest.counts.messages)",
                "seconds": "\(Double(manifest.completedAt - manifest.createdAt) / 1000)",
            ])
        health.withLock {
            $0.lastSuccessAt = manifest.completedAt
            $0.lastFailure = nil
        }
        var final = manifest
        if !config.postCommand.isEmpty {
            let outcome = await runPostCommand(folder: snapshots.folder(manifest.name))
            try? snapshots.record(outcome, for: manifest.name)
            final.postCommand = outcome
            health.withLock { $0.postCommandFailure = outcome.exitStatus == 0 ? nil : "exit status \(outcome.exitStatus)" }
        }
        try prune()
        return final
    }

    /// Keeps `backup.keep` snapshots, and the WAL segments the oldest of them replays from.
    func prune() throws {
        let removed = try snapshots.prune(keep: config.keep)
        if !removed.isEmpty { logger.info("old backups removed", metadata: ["names": "\(removed.joined(separator: ","))"]) }
        if let shipper = store.walShipper, let oldest = try snapshots.list().first(where: { $0.walStart != nil }),
            let start = oldest.walStart
        {
            let segments = try shipper.prune(before: start)
            if segments > 0 { logger.info("old WAL segments removed", metadata: ["count": "\(segments)"]) }
        }
    }

    /// `sh -c <post_command>` with `CHATD_BACKUP` set, off the cooperative pool; its status and the end of its output.
    private func runPostCommand(folder: URL) async -> SnapshotManifest.PostCommand {
        let command = config.postCommand
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<SnapshotManifest.PostCommand, Never>) in
            DispatchQueue.global(qos: .utility).async {
                continuation.resume(returning: Self.run(command, folder: folder))
            }
        }
        if outcome.exitStatus == 0 {
            logger.info("post-backup command done", metadata: ["command": "\(command)"])
        } else {
            logger.error(
                "post-backup command failed",
                metadata: ["command": "\(command)", "status": "\(outcome.exitStatus)", "output": "\(outcome.output)"])
        }
        return outcome
    }

    private static func run(_ command: String, folder: URL) -> SnapshotManifest.PostCommand {
        do {
            let output = try ChildProcess.run(
                "/bin/sh", ["-c", command],
                environment: ProcessInfo.processInfo.environment.merging(["CHATD_BACKUP": folder.path]) { $1 },
                mergeErrors: true)
            return .init(
                command: command, exitStatus: output.status,
                output: String(decoding: output.stdout.suffix(2000), as: UTF8.self))
        } catch {
            return .init(command: command, exitStatus: 127, output: "\(error)")
        }
    }
}

/// `backup.daily`.
struct DailyBackup: JobHandler {
    let backups: BackupService

    func run(_ job: LeasedJob) async throws {
        _ = try await backups.create()
    }
}
