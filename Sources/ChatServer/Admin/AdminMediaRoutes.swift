import ChatAdmin
import ChatCore
import ChatMedia
import Foundation
import Hummingbird

/// The admin API's media: how much there is, and the lifecycle pass run now (the daily cleanup's media part).
struct AdminMediaRoutes {
    let services: ChatServices

    func register(on router: Router<ChatRequestContext>) {
        router.get(RouterPath(AdminAPI.mediaStats), use: stats)
        router.post(RouterPath(AdminAPI.mediaGC), use: collect)
    }

    @Sendable func stats(_ request: Request, context: ChatRequestContext) async throws -> MediaReport {
        let root = services.media.disk.root
        let folder = Self.size(of: root)
        return MediaReport(
            kinds: try await services.mediaStore.statistics(), folderBytes: folder,
            diskFreeBytes: DiskStatus.of(root.path).freeBytes)
    }

    @Sendable func collect(_ request: Request, context: ChatRequestContext) async throws -> CleanupReport {
        let report = try await MediaCleanup(library: services.media, store: services.mediaStore, logger: services.logger)
            .pass()
        return CleanupReport(
            abandonedUploads: report.abandonedUploads, purgedMedia: report.purgedMedia, purgedTexts: report.purgedTexts,
            staleWorkingFiles: report.staleWorkingFiles, filesWithoutRecords: report.filesWithoutRecords,
            recordsWithoutFiles: report.recordsWithoutFiles)
    }

    /// Bytes of the regular files under a folder.
    static func size(of folder: URL) -> Int64 {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.fileSizeKey]) else {
            return 0
        }
        var total: Int64 = 0
        for case let url as URL in walker {
            total += Int64((try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0)
        }
        return total
    }
}

extension MediaReport: ResponseEncodable {}
extension CleanupReport: ResponseEncodable {}
extension PushTestReport: ResponseEncodable {}
