import ChatAdmin
import ChatCore
import ChatStore
import Foundation
import Hummingbird

/// `chatctl backup create|list`: a snapshot now, and what can be restored. Verify and restore work offline (chatctl
/// reads the backup folder itself), since a restore needs the daemon stopped.
struct AdminBackupRoutes {
    let services: ChatServices

    func register(on router: Router<ChatRequestContext>) {
        router.get(RouterPath(AdminAPI.backups), use: list)
        router.post(RouterPath(AdminAPI.backups), use: create)
    }

    @Sendable func list(_ request: Request, context: ChatRequestContext) async throws -> BackupsReport {
        let backups = services.backups
        let archive = backups.store.walShipper?.archive
        let span = try archive.flatMap { try WALArchive.span(of: $0) }
        return BackupsReport(
            directory: backups.snapshots.directory.path, snapshots: try backups.snapshots.list().map(BackupReport.init),
            walDirectory: archive?.path, walFirstCommitAt: span?.first, walLastCommitAt: span?.last, walBytes: span?.bytes)
    }

    @Sendable func create(_ request: Request, context: ChatRequestContext) async throws -> EditedResponse<BackupReport> {
        let manifest = try await services.backups.create()
        return EditedResponse(status: .created, response: BackupReport(manifest))
    }
}

extension BackupReport {
    init(_ manifest: SnapshotManifest) {
        self.init(
            name: manifest.name, createdAt: manifest.createdAt, completedAt: manifest.completedAt,
            databaseBytes: manifest.databaseBytes, messages: manifest.counts.messages, mediaFiles: manifest.media.count,
            mediaBytes: manifest.mediaBytes, replayable: manifest.walStart != nil,
            postCommandStatus: manifest.postCommand?.exitStatus)
    }
}

extension BackupReport: ResponseEncodable {}
extension BackupsReport: ResponseEncodable {}
