import ChatCore
import ChatFiles
import Foundation
import Synchronization

/// Ships the store's committed WAL frames to an archive folder, for point-in-time recovery (the way Litestream does,
/// inside the process that owns the writer).
///
/// The rules that make it lose nothing:
/// - The writer reports every commit (SQLite's WAL hook: the log's salts, its frame count, the time), so only whole,
///   durable transactions are shipped, each with the time it committed.
/// - Frames stay in the log until a checkpoint has copied them *and* a later write resets the log. With shipping on,
///   nothing checkpoints but the `Checkpointer`, and only while a read transaction opened at the shipped end holds
///   it there. So a reset never overwrites a frame that was not shipped.
/// - A segment lands whole (`DurableFile`) before the position moves past it; a crash re-ships at most one segment.
public final class WALShipper: Sendable {
    public struct Position: Codable, Comparable, Sendable {
        public var generation: Int
        public var frame: Int

        public static func < (a: Position, b: Position) -> Bool {
            (a.generation, a.frame) < (b.generation, b.frame)
        }
    }

    struct CommitRecord: Sendable {
        var salt: WALSalt
        var frameCount: Int
        var at: Millis
    }

    private struct State {
        var generation = 0
        var salt: WALSalt?
        var shipped = 0
        var records: [CommitRecord] = []
        var lastShipAt: Millis = 0
        var shippedBytes: Int64 = 0
        /// When the newest shipped transaction committed: now minus this is the recovery point.
        var lastCommitShipped: Millis = 0
        /// CPU time spent shipping (reading, compressing, writing), for `chatbench backup`.
        var cpuNanoseconds: UInt64 = 0
    }

    let walPath: String
    public let archive: URL
    private let state = Mutex(State())
    /// One shipment at a time (the periodic one and a barrier's).
    private let shipping = Mutex(())

    public init(databasePath: String, archive: URL) throws {
        walPath = databasePath + "-wal"
        self.archive = archive
        try FileManager.default.createDirectory(at: archive, withIntermediateDirectories: true)
        if let last = try Self.segments(in: archive).last {
            let header = try WALSegment.header(of: last)
            state.withLock {
                $0.generation = header.generation
                $0.salt = header.salt
                $0.shipped = header.lastFrame
            }
        }
    }

    /// Called by the writer's WAL hook after each commit, on the writer's thread: cheap, never blocks on I/O.
    func committed(salt: WALSalt, frameCount: Int, at time: Millis) {
        state.withLock { $0.records.append(CommitRecord(salt: salt, frameCount: frameCount, at: time)) }
    }

    /// The newest position known to be committed (shipped or not): where a snapshot starting now begins.
    public var committedPosition: Position {
        state.withLock { state in
            guard let last = state.records.last else { return Position(generation: state.generation, frame: state.shipped) }
            if let salt = state.salt, last.salt != salt {
                return Position(generation: state.generation + 1, frame: last.frameCount)
            }
            return Position(generation: state.generation, frame: last.frameCount)
        }
    }

    public var shippedPosition: Position {
        state.withLock { Position(generation: $0.generation, frame: $0.shipped) }
    }

    /// Time of the last shipment that had something to ship, and bytes shipped since start.
    public var figures: (lastShipAt: Millis, shippedBytes: Int64, lastCommitShipped: Millis) {
        state.withLock { ($0.lastShipAt, $0.shippedBytes, $0.lastCommitShipped) }
    }

    /// CPU time the shipments took, in nanoseconds.
    public var cpuNanoseconds: UInt64 { state.withLock { $0.cpuNanoseconds } }

    private static func threadCPU() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// At start, before any write of this process: ships what the log holds beyond the archive (commits of a process
    /// that was killed), with the time of this shipment for commits whose time was not recorded.
    func catchUp(now: Millis) throws {
        try shipping.withLock { _ in
            guard let reader = WALReader(path: walPath), let header = reader.header() else { return }
            var end = state.withLock { $0.salt == header.salt ? $0.shipped : 0 }
            var index = end + 1
            while let frame = reader.frame(index, pageSize: header.pageSize), frame.salt == header.salt {
                if frame.isCommit { end = index }
                index += 1
            }
            try ship(reader: reader, header: header, through: end, now: now)
        }
    }

    /// Ships every recorded commit not yet in the archive. Safe while the writer commits: shipped frames are older
    /// than any frame being written, and no checkpoint copies an unshipped one (see `Checkpointer`).
    @discardableResult
    public func ship(now: Millis = Clock.nowMillis()) throws -> Int {
        try shipping.withLock { _ in
            guard let reader = WALReader(path: walPath), let header = reader.header() else { return 0 }
            let end = state.withLock { state -> Int in
                state.records.filter { $0.salt == header.salt }.map(\.frameCount).max() ?? 0
            }
            return try ship(reader: reader, header: header, through: end, now: now)
        }
    }

    private func ship(reader: WALReader, header: WALHeader, through end: Int, now: Millis) throws -> Int {
        let cpu = Self.threadCPU()
        defer {
            let spent = Self.threadCPU() - cpu
            state.withLock { $0.cpuNanoseconds += spent }
        }
        let (generation, from, records) = state.withLock { state -> (Int, Int, [CommitRecord]) in
            if state.salt != header.salt {
                // The log was reset after a checkpoint that followed a complete shipment: a new generation.
                if state.salt != nil { state.generation += 1 }
                state.salt = header.salt
                state.shipped = 0
            }
            return (state.generation, state.shipped + 1, state.records.filter { $0.salt == header.salt })
        }
        guard end >= from else {
            state.withLock { $0.records.removeAll { $0.salt != header.salt || $0.frameCount <= end } }
            return 0
        }
        guard let run = reader.run(from, through: end, pageSize: header.pageSize, salt: header.salt) else {
            throw StoreError("the WAL no longer holds frames \(from)...\(end) of generation \(generation); shipping stopped")
        }
        let times = Dictionary(records.map { ($0.frameCount, $0.at) }, uniquingKeysWith: { first, _ in first })
        let commits = run.commitFrames.map { WALSegment.Commit(frame: $0, at: times[$0] ?? now) }
        let segmentHeader = WALSegment.Header(
            generation: generation, salt: header.salt, firstFrame: from, lastFrame: end, pageSize: header.pageSize,
            commits: commits)
        let data = try WALSegment.encode(segmentHeader, packedFrames: run.packed())
        let name = WALSegment.fileName(generation: generation, firstFrame: from)
        try DurableFile.write(data, to: archive.appendingPathComponent(name), mode: 0o600)
        state.withLock { state in
            state.shipped = end
            state.records.removeAll { $0.salt != header.salt || $0.frameCount <= end }
            state.lastShipAt = now
            state.shippedBytes += Int64(data.count)
            state.lastCommitShipped = max(state.lastCommitShipped, commits.last?.at ?? 0)
        }
        return run.count
    }

    /// The archive's segments, in log order.
    public static func segments(in archive: URL) throws -> [URL] {
        guard FileManager.default.fileExists(atPath: archive.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: archive, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == WALSegment.fileExtension && !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// Removes segments wholly before `position` (older than the oldest kept snapshot needs).
    public func prune(before position: Position) throws -> Int {
        try shipping.withLock { _ in
            var removed = 0
            let segments = try Self.segments(in: archive)
            for url in segments {
                let header = try WALSegment.header(of: url)
                let last = Position(generation: header.generation, frame: header.lastFrame)
                guard last < position else { continue }
                try FileManager.default.removeItem(at: url)
                removed += 1
            }
            return removed
        }
    }
}
