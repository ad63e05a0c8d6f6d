import ChatCore
import Foundation
import Logging

/// The media part of `cleanup.daily`: the media lifecycle. Removes uploads never completed (a day after their URL expired), media no
/// live message has carried for the retention (its messages were deleted, or it was never sent) with its files,
/// and what remains of deleted messages' text; then reconciles the folder with the store and reports files without
/// records and records without files. Each step is idempotent, so a pass cut short runs again whole.
public struct MediaCleanup: Sendable {
    let library: MediaLibrary
    let store: any MediaRepository
    let logger: Logger
    let clock: @Sendable () -> Millis

    public init(library: MediaLibrary, store: any MediaRepository, logger: Logger, clock: @escaping @Sendable () -> Millis = Clock.nowMillis) {
        self.library = library
        self.store = store
        self.logger = logger
        self.clock = clock
    }

    /// What one pass did and found.
    public struct Report: Sendable, Equatable, Codable {
        public init() {}

        public var abandonedUploads = 0
        public var purgedMedia = 0
        public var purgedTexts = 0
        /// Half-written files a killed process left (`.part`, posters), removed after an hour.
        public var staleWorkingFiles = 0
        /// Files under media/ that no record names (left in place for an operator to look at).
        public var filesWithoutRecords: [String] = []
        /// Media whose original is missing from disk.
        public var recordsWithoutFiles: [Int64] = []
    }

    /// One pass, with what it did and found in the log.
    public func run() async throws {
        let report = try await pass()
        logger.notice("daily cleanup", metadata: [
            "abandoned_uploads": "\(report.abandonedUploads)", "purged_media": "\(report.purgedMedia)",
            "purged_texts": "\(report.purgedTexts)", "stale_working_files": "\(report.staleWorkingFiles)",
            "files_without_records": "\(report.filesWithoutRecords.count)",
            "records_without_files": "\(report.recordsWithoutFiles.count)",
        ])
        for path in report.filesWithoutRecords.prefix(20) {
            logger.warning("a media file has no record", metadata: ["path": "\(path)"])
        }
        for id in report.recordsWithoutFiles.prefix(20) {
            logger.warning("a media record has no file", metadata: ["media": "\(id)"])
        }
    }

    public func pass() async throws -> Report {
        var report = Report()
        let disk = library.disk
        let now = clock()
        let uploadCutoff = now - Millis(library.limits.abandonedUploadHours) * 3_600_000
        while true {
            let uploads = try await store.abandonedUploads(before: uploadCutoff, limit: 500)
            for upload in uploads {
                try? FileManager.default.removeItem(at: disk.temporary(upload: upload.id))
                try? FileManager.default.removeItem(at: disk.original(owner: upload.ownerId, upload: upload.id))
                try await store.deleteUpload(upload.id)
            }
            report.abandonedUploads += uploads.count
            if uploads.count < 500 { break }
        }
        let mediaCutoff = now - Millis(library.limits.deletedMediaDays) * 86_400_000
        while true {
            let unused = try await store.unusedMedia(before: mediaCutoff, limit: 500)
            for stored in try await store.deleteMedia(unused.map(\.media.id)) {
                for url in library.files(of: stored) { try? FileManager.default.removeItem(at: url) }
                report.purgedMedia += 1
            }
            if unused.count < 500 { break }
        }
        report.purgedTexts = try await store.purgeDeletedMessageText(before: mediaCutoff)
        report.staleWorkingFiles = removeStaleWorkingFiles(olderThan: now - 3_600_000)
        try await reconcile(&report)
        return report
    }

    /// Files written aside and never renamed into place (the process died mid-write), and posters of videos whose
    /// processing died: nothing refers to them. Upload bytes in `uploads/temp` are the uploads pass's business.
    private func removeStaleWorkingFiles(olderThan cutoff: Millis) -> Int {
        let disk = library.disk
        var removed = 0
        for folder in [disk.temporaryUploads, disk.finalUploads, disk.displayImages, disk.thumbnails] {
            guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.contentModificationDateKey])
            else { continue }
            for case let url as URL in walker {
                let name = url.lastPathComponent
                guard name.hasSuffix(".part") || (folder == disk.temporaryUploads && name.hasPrefix("poster-")),
                    let modified = try? url.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate,
                    Millis(modified.timeIntervalSince1970 * 1000) < cutoff
                else { continue }
                if (try? FileManager.default.removeItem(at: url)) != nil { removed += 1 }
            }
        }
        return removed
    }

    /// Compares the files under media/ with the records. Temporary uploads are the uploads table's business (above)
    /// and files being written (`.part`) are skipped.
    private func reconcile(_ report: inout Report) async throws {
        let disk = library.disk
        let all = try await store.allMedia()
        var expected = Set<String>()
        for stored in all {
            let urls = library.files(of: stored)
            for url in urls { expected.insert(url.standardizedFileURL.path) }
            if !FileManager.default.fileExists(atPath: urls[0].path) { report.recordsWithoutFiles.append(stored.media.id) }
        }
        for folder in [disk.finalUploads, disk.displayImages, disk.thumbnails] {
            guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey])
            else { continue }
            for case let url as URL in walker {
                guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true,
                    !url.lastPathComponent.hasSuffix(".part")
                else { continue }
                let path = url.standardizedFileURL.path
                if !expected.contains(path) {
                    // An original whose upload record says it is being completed is not an orphan.
                    let name = url.lastPathComponent
                    if folder == disk.finalUploads, MediaDisk.isUploadId(name), try await store.upload(name) != nil { continue }
                    report.filesWithoutRecords.append(path)
                }
            }
        }
        report.filesWithoutRecords.sort()
    }
}
