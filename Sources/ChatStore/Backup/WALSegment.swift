import CZlib
import CZstd
import ChatCore
import Foundation

/// One shipment of WAL frames to the archive: a run of whole transactions of one generation of the log, with the time
/// each committed. File: a first line `chatd-wal-segment 3`, a line of JSON (`Header`), then the frames, compressed
/// with Zstandard: each as its page number and commit size (4 bytes each, big-endian) and the page. Pages compress
/// well (free space, repeated keys), and the archive is written as often as the log. Older segments still read:
/// version 2 (zlib) and version 1 (uncompressed).
struct WALSegment: Sendable {
    struct Header: Codable, Equatable, Sendable {
        /// Counts the log's resets since the archive began; positions compare as (generation, frame).
        var generation: Int
        var salt: WALSalt
        var firstFrame: Int
        var lastFrame: Int
        var pageSize: Int
        /// Each commit frame's index and the time (ms) its transaction committed.
        var commits: [Commit]
        /// Bytes of the compressed frames that follow (versions 2 and 3).
        var compressedBytes: Int?

        enum CodingKeys: String, CodingKey {
            case generation, salt
            case firstFrame = "first_frame"
            case lastFrame = "last_frame"
            case pageSize = "page_size"
            case commits
            case compressedBytes = "compressed_bytes"
        }
    }

    struct Commit: Codable, Equatable, Sendable {
        var frame: Int
        var at: Millis
    }

    static let magic = "chatd-wal-segment 3\n"
    static let zlibMagic = "chatd-wal-segment 2\n"
    static let uncompressedMagic = "chatd-wal-segment 1\n"
    static let fileExtension = "walseg"

    var header: Header
    var frames: [WALFrame]

    /// `00000003-0000004097.walseg`: generation, first frame; names sort in log order.
    var fileName: String { Self.fileName(generation: header.generation, firstFrame: header.firstFrame) }

    static func fileName(generation: Int, firstFrame: Int) -> String {
        let generation = String(generation)
        let frame = String(firstFrame)
        return String(repeating: "0", count: max(0, 8 - generation.count)) + generation + "-"
            + String(repeating: "0", count: max(0, 10 - frame.count)) + frame + "." + fileExtension
    }

    func encoded() throws -> Data {
        var packed: [UInt8] = []
        packed.reserveCapacity(frames.count * (8 + header.pageSize))
        for frame in frames {
            packed.appendBigEndian(frame.page)
            packed.appendBigEndian(frame.commitSize)
            packed.append(contentsOf: frame.data)
        }
        return try Self.encode(header, packedFrames: packed)
    }

    /// The file for `header` and its frames already packed (page number, commit size, page; see `WALRun`).
    static func encode(_ header: Header, packedFrames: [UInt8]) throws -> Data {
        let compressed = try compress(packedFrames)
        var header = header
        header.compressedBytes = compressed.count
        var data = Data(magic.utf8)
        data.append(try JSONEncoder().encode(header))
        data.append(0x0A)
        data.append(contentsOf: compressed)
        return data
    }

    /// Zstandard at level 1: the shipper runs beside the writer on a small machine, so it takes the fastest level
    /// that still shrinks pages several times (zlib's fastest level took about 3× the CPU for a similar size).
    static func compress(_ bytes: [UInt8]) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
        let length = output.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { input in
                ZSTD_compress(out.baseAddress, out.count, input.baseAddress, input.count, 1)
            }
        }
        guard ZSTD_isError(length) == 0 else {
            throw StoreError("compressing a WAL segment failed (\(String(cString: ZSTD_getErrorName(length))))")
        }
        output.removeSubrange(length...)
        return output
    }

    static func decompress(_ bytes: ArraySlice<UInt8>, to size: Int) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        let length = output.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { input in ZSTD_decompress(out.baseAddress, size, input.baseAddress, input.count) }
        }
        guard ZSTD_isError(length) == 0, length == size else {
            throw StoreError("a WAL segment's frames do not decompress")
        }
        return output
    }

    /// Format 2's frames (zlib).
    static func inflate(_ bytes: ArraySlice<UInt8>, to size: Int) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        var length = uLongf(size)
        let status = output.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { input in
                uncompress(out.baseAddress, &length, input.baseAddress, uLong(input.count))
            }
        }
        guard status == Z_OK, Int(length) == size else { throw StoreError("a WAL segment's frames do not decompress") }
        return output
    }

    /// Reads a segment's header only (listing an archive reads no pages).
    static func header(of url: URL) throws -> Header {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let head = try handle.read(upToCount: 1 << 20) ?? Data()
        return try parse(head, headerOnly: true).header
    }

    static func read(_ url: URL) throws -> WALSegment {
        try parse(try Data(contentsOf: url), headerOnly: false)
    }

    private static func parse(_ data: Data, headerOnly: Bool) throws -> WALSegment {
        var bytes = [UInt8](data)
        let magic = Array(Self.magic.utf8)
        let zstd = bytes.starts(with: magic)
        let zlib = bytes.starts(with: Array(Self.zlibMagic.utf8))
        guard zstd || zlib || bytes.starts(with: Array(Self.uncompressedMagic.utf8)), bytes.count > magic.count,
            let end = bytes[magic.count...].firstIndex(of: 0x0A)
        else { throw StoreError("not a chatd WAL segment") }
        let header = try JSONDecoder().decode(Header.self, from: Data(bytes[magic.count..<end]))
        if headerOnly { return WALSegment(header: header, frames: []) }
        let count = header.lastFrame - header.firstFrame + 1
        let stride = 8 + header.pageSize
        let name = fileName(generation: header.generation, firstFrame: header.firstFrame)
        if zstd || zlib {
            guard let size = header.compressedBytes, bytes.count - (end + 1) == size else {
                throw StoreError("WAL segment \(name) is truncated")
            }
            bytes =
                zstd
                ? try decompress(bytes[(end + 1)...], to: count * stride)
                : try inflate(bytes[(end + 1)...], to: count * stride)
        } else {
            bytes = Array(bytes[(end + 1)...])
        }
        guard count > 0, bytes.count == count * stride else {
            throw StoreError("WAL segment \(name) is truncated")
        }
        var frames: [WALFrame] = []
        frames.reserveCapacity(count)
        var offset = 0
        for _ in 0..<count {
            frames.append(
                WALFrame(
                    page: bytes.bigEndianUInt32(at: offset), commitSize: bytes.bigEndianUInt32(at: offset + 4),
                    salt: header.salt, data: Array(bytes[(offset + 8)..<(offset + stride)])))
            offset += stride
        }
        return WALSegment(header: header, frames: frames)
    }
}
