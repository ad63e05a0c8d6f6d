import ChatCore
import Foundation

/// One shipment of WAL frames to the archive: a run of whole transactions of one generation of the log, with the time
/// each committed. File: a first line `chatd-wal-segment 1`, a line of JSON (`Header`), then each frame as its page
/// number and commit size (4 bytes each, big-endian) and the page.
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

        enum CodingKeys: String, CodingKey {
            case generation, salt
            case firstFrame = "first_frame"
            case lastFrame = "last_frame"
            case pageSize = "page_size"
            case commits
        }
    }

    struct Commit: Codable, Equatable, Sendable {
        var frame: Int
        var at: Millis
    }

    static let magic = "chatd-wal-segment 1\n"
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
        var data = Data(Self.magic.utf8)
        data.append(try JSONEncoder().encode(header))
        data.append(0x0A)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frames.count * (8 + header.pageSize))
        for frame in frames {
            bytes.appendBigEndian(frame.page)
            bytes.appendBigEndian(frame.commitSize)
            bytes.append(contentsOf: frame.data)
        }
        data.append(contentsOf: bytes)
        return data
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
        let bytes = [UInt8](data)
        let magic = Array(Self.magic.utf8)
        guard bytes.count > magic.count, Array(bytes[..<magic.count]) == magic,
            let end = bytes[magic.count...].firstIndex(of: 0x0A)
        else { throw StoreError("not a chatd WAL segment") }
        let header = try JSONDecoder().decode(Header.self, from: Data(bytes[magic.count..<end]))
        if headerOnly { return WALSegment(header: header, frames: []) }
        let count = header.lastFrame - header.firstFrame + 1
        let stride = 8 + header.pageSize
        guard count > 0, bytes.count - (end + 1) == count * stride else {
            throw StoreError("WAL segment \(fileName(generation: header.generation, firstFrame: header.firstFrame)) is truncated")
        }
        var frames: [WALFrame] = []
        frames.reserveCapacity(count)
        var offset = end + 1
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
