import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// SQLite's write-ahead log as it is on disk (https://sqlite.org/fileformat2.html#walformat): a 32-byte header, then
/// frames of a 24-byte header and one page each. A frame whose "database size" field is not zero ends a transaction
/// (a commit frame). Frames carry the header's two salts; a reset of the log (after a complete checkpoint) changes
/// them, which is how a reader tells a new log from an old one at the same offsets.
struct WALSalt: Hashable, Codable, Sendable {
    var first: UInt32
    var second: UInt32
}

struct WALHeader: Equatable, Sendable {
    static let size = 32
    var pageSize: Int
    var salt: WALSalt
}

struct WALFrame: Sendable {
    static let headerSize = 24
    /// The page's number in the database file (from 1).
    var page: UInt32
    /// For a commit frame, the database's size in pages after the transaction; 0 otherwise.
    var commitSize: UInt32
    var salt: WALSalt
    var data: [UInt8]

    var isCommit: Bool { commitSize != 0 }
}

/// Reads a WAL file with positioned reads (it is appended to by the writer while being read).
final class WALReader {
    let descriptor: Int32

    init?(path: String) {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
    }

    deinit { close(descriptor) }

    func header() -> WALHeader? {
        guard let bytes = read(at: 0, count: WALHeader.size) else { return nil }
        let magic = bytes.bigEndianUInt32(at: 0)
        guard magic == 0x377f_0682 || magic == 0x377f_0683 else { return nil }
        let pageSize = Int(bytes.bigEndianUInt32(at: 8))
        guard pageSize >= 512, pageSize <= 65_536 else { return nil }
        return WALHeader(
            pageSize: pageSize, salt: WALSalt(first: bytes.bigEndianUInt32(at: 16), second: bytes.bigEndianUInt32(at: 20)))
    }

    /// Frame `index` (from 1), or nil when the file does not hold it whole.
    func frame(_ index: Int, pageSize: Int) -> WALFrame? {
        let offset = WALHeader.size + (index - 1) * (WALFrame.headerSize + pageSize)
        guard let bytes = read(at: offset, count: WALFrame.headerSize + pageSize) else { return nil }
        return WALFrame(
            page: bytes.bigEndianUInt32(at: 0), commitSize: bytes.bigEndianUInt32(at: 4),
            salt: WALSalt(first: bytes.bigEndianUInt32(at: 8), second: bytes.bigEndianUInt32(at: 12)),
            data: Array(bytes[WALFrame.headerSize...]))
    }

    /// Frames `first...last` with one positioned read, or nil when the file does not hold them all whole in the
    /// generation `salt` (the log was reset over them).
    func run(_ first: Int, through last: Int, pageSize: Int, salt: WALSalt) -> WALRun? {
        let stride = WALFrame.headerSize + pageSize
        let offset = WALHeader.size + (first - 1) * stride
        guard last >= first, let bytes = read(at: offset, count: (last - first + 1) * stride) else { return nil }
        let run = WALRun(first: first, pageSize: pageSize, bytes: bytes)
        guard (0..<run.count).allSatisfy({ run.salt(at: $0) == salt }) else { return nil }
        return run
    }

    private func read(at offset: Int, count: Int) -> [UInt8]? {
        var complete = false
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let got = pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if got < 0, errno == EINTR { continue }
                guard got > 0 else { break }
                done += got
            }
            // Only what was read counts as initialized; a short read answers nil.
            initialized = done
            complete = done == count
        }
        return complete ? bytes : nil
    }
}

/// Consecutive frames as the log holds them (24-byte frame header, page), read in one piece: the shipper packs them
/// for a segment without a copy per frame.
struct WALRun {
    let first: Int
    let pageSize: Int
    let bytes: [UInt8]

    var stride: Int { WALFrame.headerSize + pageSize }
    var count: Int { bytes.count / stride }
    var last: Int { first + count - 1 }

    func salt(at offset: Int) -> WALSalt {
        let base = offset * stride
        return WALSalt(first: bytes.bigEndianUInt32(at: base + 8), second: bytes.bigEndianUInt32(at: base + 12))
    }

    /// The indexes (in the log) of the frames that end a transaction.
    var commitFrames: [Int] {
        (0..<count).filter { bytes.bigEndianUInt32(at: $0 * stride + 4) != 0 }.map { first + $0 }
    }

    /// The frames as a segment holds them: page number and commit size (the frame header's first 8 bytes), page.
    func packed() -> [UInt8] {
        let packedStride = 8 + pageSize
        return [UInt8](unsafeUninitializedCapacity: count * packedStride) { out, initialized in
            bytes.withUnsafeBytes { source in
                for index in 0..<count {
                    let from = source.baseAddress! + index * stride
                    let to = UnsafeMutableRawPointer(out.baseAddress!) + index * packedStride
                    to.copyMemory(from: from, byteCount: 8)
                    (to + 8).copyMemory(from: from + WALFrame.headerSize, byteCount: pageSize)
                }
            }
            initialized = count * packedStride
        }
    }
}

extension [UInt8] {
    func bigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }

    mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8((value >> 16) & 0xFF))
        append(UInt8((value >> 8) & 0xFF))
        append(UInt8(value & 0xFF))
    }
}
