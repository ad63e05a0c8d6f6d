import ChatSpawn
import Foundation
import Testing

/// Real media files for tests, made with the real tools (`vips` of libvips-tools, `ffmpeg`, `heif-enc`) or written
/// byte by byte where a file must be hostile (an EXIF block with GPS tags, a decompression bomb).
enum MediaFixtures {
    struct ToolFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs a tool and returns its standard output; throws with its standard error when it fails.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let output = try ChildProcess.run(
            "/usr/bin/env", [tool] + arguments, environment: ProcessInfo.processInfo.environment)
        guard output.status == 0 else {
            throw ToolFailure(
                description: "\(tool) \(arguments.joined(separator: " ")): \(String(decoding: output.stderr, as: UTF8.self))")
        }
        return String(decoding: output.stdout, as: UTF8.self)
    }

    static func isInstalled(_ tool: String) -> Bool {
        (try? run("sh", ["-c", "command -v \(tool)"])) != nil
    }

    /// A landscape JPEG (`width` × `height` stored pixels) with detail in it, carrying EXIF orientation 6 (the
    /// camera was turned: upright it is portrait) and GPS coordinates.
    static func cameraJPEG(width: Int = 4000, height: Int = 3000, in folder: URL) throws -> URL {
        let plain = folder.appendingPathComponent("plain-\(UUID().uuidString).jpg")
        // Noise compresses like a photo and makes libvips decode every block.
        try run("vips", ["gaussnoise", plain.path + "[Q=85]", "\(width)", "\(height)", "--mean", "128", "--sigma", "40"])
        let bytes = try Data(contentsOf: plain)
        try? FileManager.default.removeItem(at: plain)
        let withExif = folder.appendingPathComponent("camera-\(UUID().uuidString).jpg")
        try insertAfterSOI(exifSegment(orientation: 6), into: bytes).write(to: withExif)
        return withExif
    }

    /// What `vipsheader -a` reports of a file (every metadata field libvips sees).
    static func header(_ file: URL) throws -> String {
        try run("vipsheader", ["-a", file.path])
    }

    /// Width and height as libvips reads them.
    static func size(_ file: URL) throws -> (width: Int, height: Int) {
        let width = try run("vipsheader", ["-f", "width", file.path]).trimmingCharacters(in: .whitespacesAndNewlines)
        let height = try run("vipsheader", ["-f", "height", file.path]).trimmingCharacters(in: .whitespacesAndNewlines)
        return (Int(width) ?? -1, Int(height) ?? -1)
    }

    /// A PNG with an alpha channel (a transparent logo).
    static func transparentPNG(in folder: URL) throws -> URL {
        let file = folder.appendingPathComponent("logo-\(UUID().uuidString).png")
        try run("vips", ["black", file.path, "400", "300", "--bands", "4"])
        return file
    }

    /// An animated GIF of ten frames.
    static func animatedGIF(in folder: URL) throws -> URL {
        let file = folder.appendingPathComponent("anim-\(UUID().uuidString).gif")
        try run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc=duration=1:size=200x150:rate=10", "-y", file.path])
        return file
    }

    /// A HEIC photo, when `heif-enc` is installed.
    static func heic(in folder: URL) throws -> URL? {
        guard isInstalled("heif-enc") else { return nil }
        let source = folder.appendingPathComponent("src-\(UUID().uuidString).jpg")
        try run("vips", ["gaussnoise", source.path, "640", "480"])
        let file = folder.appendingPathComponent("photo-\(UUID().uuidString).heic")
        try run("heif-enc", ["-q", "50", "-o", file.path, source.path])
        return file
    }

    /// A two-second H.264 MP4 of 320 × 240.
    static func video(in folder: URL) throws -> URL {
        let file = folder.appendingPathComponent("clip-\(UUID().uuidString).mp4")
        try run("ffmpeg", [
            "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=15", "-f", "lavfi", "-i",
            "sine=frequency=440:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
            "-y", file.path,
        ])
        return file
    }

    /// A valid PNG of 100,000 × 100,000 pixels in a few dozen bytes: decoding it would need 30 GB.
    static func decompressionBomb() -> [UInt8] {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var ihdr: [UInt8] = []
        ihdr += bigEndian(UInt32(100_000)) + bigEndian(UInt32(100_000))
        ihdr += [8, 2, 0, 0, 0]  // 8-bit RGB
        png += chunk("IHDR", ihdr)
        // A zlib stream of a few zero bytes: the rest would inflate from nothing.
        png += chunk("IDAT", [0x78, 0x9C, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01])
        png += chunk("IEND", [])
        return png
    }

    /// A JPEG's first bytes and then nothing that decodes.
    static func corruptJPEG() -> [UInt8] {
        [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10] + Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]
            + (0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
    }

    static let svg = Array(#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10000" height="10000"><rect width="10" height="10"/></svg>"#.utf8)
    static let pdf = Array("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".utf8)
    static let postScript = Array("%!PS-Adobe-3.0\n/Helvetica findfont 12 scalefont setfont 72 72 moveto (hi) show showpage\n".utf8)

    // MARK: Bytes

    /// An APP1 segment holding an EXIF block (big-endian TIFF) with an orientation and a GPS position.
    static func exifSegment(orientation: UInt16) -> [UInt8] {
        var tiff: [UInt8] = Array("MM".utf8) + [0x00, 0x2A] + bigEndian(UInt32(8))
        // IFD0 at 8: two entries (Orientation, GPS IFD pointer), then the next-IFD offset.
        let ifd0Size = 2 + 2 * 12 + 4
        let gpsOffset = UInt32(8 + ifd0Size)
        tiff += bigEndian(UInt16(2))
        tiff += entry(tag: 0x0112, type: 3, count: 1, value: bigEndian(orientation) + [0, 0])
        tiff += entry(tag: 0x8825, type: 4, count: 1, value: bigEndian(gpsOffset))
        tiff += bigEndian(UInt32(0))
        // GPS IFD: latitude ref, latitude, longitude ref, longitude.
        let gpsSize = 2 + 4 * 12 + 4
        let latitudeAt = gpsOffset + UInt32(gpsSize)
        let longitudeAt = latitudeAt + 24
        tiff += bigEndian(UInt16(4))
        tiff += entry(tag: 0x0001, type: 2, count: 2, value: Array("N".utf8) + [0, 0, 0])
        tiff += entry(tag: 0x0002, type: 5, count: 3, value: bigEndian(latitudeAt))
        tiff += entry(tag: 0x0003, type: 2, count: 2, value: Array("E".utf8) + [0, 0, 0])
        tiff += entry(tag: 0x0004, type: 5, count: 3, value: bigEndian(longitudeAt))
        tiff += bigEndian(UInt32(0))
        for (degrees, minutes, seconds) in [(52, 31, 12), (13, 24, 36)] {
            for value in [degrees, minutes, seconds] { tiff += bigEndian(UInt32(value)) + bigEndian(UInt32(1)) }
        }
        let payload = Array("Exif".utf8) + [0, 0] + tiff
        return [0xFF, 0xE1] + bigEndian(UInt16(payload.count + 2)) + payload
    }

    private static func entry(tag: UInt16, type: UInt16, count: UInt32, value: [UInt8]) -> [UInt8] {
        bigEndian(tag) + bigEndian(type) + bigEndian(count) + value
    }

    private static func insertAfterSOI(_ segment: [UInt8], into jpeg: Data) -> Data {
        var bytes = [UInt8](jpeg)
        bytes.insert(contentsOf: segment, at: 2)
        return Data(bytes)
    }

    private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    private static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    private static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}
