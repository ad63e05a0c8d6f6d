import ChatCore
import ChatFiles
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The folder WAL segments are shipped to. Its `LINEAGE` file names the history it records: a restore starts a new
/// one (the old segments are put aside), so a snapshot's replay never mixes two histories.
public enum WALArchive {
    static let lineageFile = "LINEAGE"

    public static func lineage(of archive: URL) throws -> String {
        let file = archive.appendingPathComponent(lineageFile)
        if let text = try? String(contentsOf: file, encoding: .utf8), !text.isEmpty {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let lineage = UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(at: archive, withIntermediateDirectories: true)
        try DurableFile.write(Data((lineage + "\n").utf8), to: file)
        return lineage
    }

    /// The span of time the archive can replay: the first and last commit it holds.
    public static func span(of archive: URL) throws -> (first: Millis, last: Millis, segments: Int, bytes: Int64)? {
        let segments = try WALShipper.segments(in: archive)
        var first: Millis?
        var last: Millis?
        var bytes: Int64 = 0
        for url in segments {
            let header = try WALSegment.header(of: url)
            if first == nil { first = header.commits.first?.at }
            last = header.commits.last?.at ?? last
            bytes += Int64((try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0)
        }
        guard let first, let last else { return nil }
        return (first, last, segments.count, bytes)
    }

    /// Puts every segment aside (into `<archive>/before-<stamp>/`) and starts a new lineage.
    public static func startNewLineage(_ archive: URL, stamp: String) throws {
        guard FileManager.default.fileExists(atPath: archive.path) else { return }
        let aside = archive.appendingPathComponent("before-\(stamp)", isDirectory: true)
        try FileManager.default.createDirectory(at: aside, withIntermediateDirectories: true)
        for url in try WALShipper.segments(in: archive) + [archive.appendingPathComponent(lineageFile)]
        where FileManager.default.fileExists(atPath: url.path) {
            try FileManager.default.moveItem(at: url, to: aside.appendingPathComponent(url.lastPathComponent))
        }
    }
}

/// Rebuilds a database as of a moment: a snapshot's file, then the archived transactions after its start position
/// that committed at or before the moment, page by page (each frame is a whole page as of its commit; the file is
/// cut to the size the commit frame gives). Pages the replay does not touch are the snapshot's, which is right as
/// long as the replay starts at or before the snapshot's copy and ends after it.
public struct PointInTimeRestore: Sendable {
    public struct Outcome: Sendable, Equatable {
        /// Transactions replayed over the snapshot.
        public var transactions: Int
        /// When the last of them committed (the snapshot's completion when none).
        public var restoredTo: Millis

        public init(transactions: Int, restoredTo: Millis) {
            self.transactions = transactions
            self.restoredTo = restoredTo
        }
    }

    public let snapshot: SnapshotManifest
    public let snapshotFile: URL
    public let archive: URL

    public init(snapshot: SnapshotManifest, snapshotFile: URL, archive: URL) {
        self.snapshot = snapshot
        self.snapshotFile = snapshotFile
        self.archive = archive
    }

    /// The newest snapshot of the archive's lineage complete at or before `time`.
    public static func snapshot(for time: Millis, among snapshots: [SnapshotManifest], archive: URL) throws
        -> SnapshotManifest?
    {
        let lineage = try WALArchive.lineage(of: archive)
        return snapshots.filter { $0.walLineage == lineage && $0.walStart != nil && $0.completedAt <= time }.last
    }

    /// Writes the database as of `time` to `destination` (a new file).
    public func build(at time: Millis, into destination: URL) throws -> Outcome {
        guard let start = snapshot.walStart else {
            throw StoreError("snapshot \(snapshot.name) was taken without WAL shipping; it restores only as it is")
        }
        guard time >= snapshot.completedAt else {
            throw StoreError("snapshot \(snapshot.name) completed after the requested time; choose an older one")
        }
        try FileManager.default.copyItem(at: snapshotFile, to: destination)
        let descriptor = open(destination.path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw StoreError("cannot open \(destination.path) to replay into it") }
        defer { close(descriptor) }
        var outcome = Outcome(transactions: 0, restoredTo: snapshot.completedAt)
        var expected = start  // the last frame known to be in place
        var pending: [WALFrame] = []
        replay: for url in try WALShipper.segments(in: archive) {
            let header = try WALSegment.header(of: url)
            let last = WALShipper.Position(generation: header.generation, frame: header.lastFrame)
            guard start < last else { continue }
            // Segments follow one another: the next frame of this generation, or frame 1 of a later one.
            let continues =
                (header.generation == expected.generation && header.firstFrame <= expected.frame + 1)
                || (header.generation > expected.generation && header.firstFrame == 1)
            guard continues else {
                throw StoreError(
                    "the WAL archive has a gap before \(url.lastPathComponent): it can restore up to \(outcome.restoredTo) only")
            }
            let segment = try WALSegment.read(url)
            let times = Dictionary(uniqueKeysWithValues: segment.header.commits.map { ($0.frame, $0.at) })
            if header.generation > expected.generation { pending = [] }
            for (offset, frame) in segment.frames.enumerated() {
                let index = header.firstFrame + offset
                let position = WALShipper.Position(generation: header.generation, frame: index)
                guard start < position else { continue }
                pending.append(frame)
                guard frame.isCommit else { continue }
                let committedAt = times[index] ?? Millis.max
                if committedAt > time { break replay }
                try apply(pending, pageSize: header.pageSize, descriptor: descriptor)
                pending = []
                outcome.transactions += 1
                outcome.restoredTo = max(outcome.restoredTo, committedAt)
                expected = position
            }
            expected = WALShipper.Position(generation: header.generation, frame: max(expected.frame, header.lastFrame))
        }
        guard fsync(descriptor) == 0 else { throw StoreError("cannot sync \(destination.path)") }
        return outcome
    }

    private func apply(_ frames: [WALFrame], pageSize: Int, descriptor: Int32) throws {
        for frame in frames {
            let written = frame.data.withUnsafeBytes { bytes in
                pwrite(descriptor, bytes.baseAddress!, pageSize, off_t(Int(frame.page - 1) * pageSize))
            }
            guard written == pageSize else { throw StoreError("cannot write page \(frame.page) while replaying") }
        }
        if let commit = frames.last, commit.isCommit {
            guard ftruncate(descriptor, off_t(Int(commit.commitSize) * pageSize)) == 0 else {
                throw StoreError("cannot resize the database while replaying")
            }
        }
    }
}
