import ChatCore

/// What a file really is, from its first bytes: the declared type is never trusted. Images chatd processes name the
/// one libvips loader allowed to open them; videos name the one ffmpeg demuxer; anything else is a plain file.
public struct SniffedType: Sendable, Equatable {
    public var kind: MediaKind
    public var contentType: String
    /// The libvips loader for an image chatd processes.
    public var loader: String?
    /// The ffmpeg demuxer for a video (`-f`), so ffmpeg never guesses (a playlist demuxer would open other files).
    public var demuxer: String?

    public static let octetStream = SniffedType(kind: .file, contentType: "application/octet-stream")

    /// How many leading bytes `sniff` reads.
    public static let headerLength = 64

    /// Images chatd processes, videos whose metadata and poster it takes; a few common files by their signature so
    /// they download with a useful type; everything else `application/octet-stream`.
    public static func sniff(_ bytes: some Collection<UInt8>) -> SniffedType {
        let b = Array(bytes.prefix(headerLength))
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + prefix.count && Array(b[offset..<offset + prefix.count]) == prefix
        }
        func ascii(_ text: String, at offset: Int = 0) -> Bool { starts(Array(text.utf8), at: offset) }

        if starts([0xFF, 0xD8, 0xFF]) { return .image("image/jpeg", "jpegload") }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .image("image/png", "pngload") }
        if ascii("GIF87a") || ascii("GIF89a") { return .image("image/gif", "gifload") }
        if ascii("RIFF"), ascii("WEBP", at: 8) { return .image("image/webp", "webpload") }
        if ascii("ftyp", at: 4), b.count >= 12 {
            let brand = String(decoding: b[8..<12], as: UTF8.self)
            switch brand {
            case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1":
                return .image("image/heic", "heifload")
            case "avif", "avis":
                return .image("image/avif", "heifload")
            case "qt  ":
                return .video("video/quicktime", "mov")
            case "isom", "iso2", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "dash", "M4V ", "MSNV", "3gp4",
                "3gp5", "3gp6", "3g2a":
                return .video("video/mp4", "mov")
            case "M4A ", "M4B ":
                return SniffedType(kind: .file, contentType: "audio/mp4")
            default:
                return .octetStream
            }
        }
        if starts([0x1A, 0x45, 0xDF, 0xA3]) {
            // EBML: WebM or Matroska; the doctype follows within the header.
            let webm = b.count >= 8 && (0..<(b.count - 3)).contains { ascii("webm", at: $0) }
            return .video(webm ? "video/webm" : "video/x-matroska", "matroska")
        }
        if ascii("%PDF-") { return SniffedType(kind: .file, contentType: "application/pdf") }
        if ascii("OggS") { return SniffedType(kind: .file, contentType: "audio/ogg") }
        if ascii("ID3") || starts([0xFF, 0xFB]) || starts([0xFF, 0xF3]) {
            return SniffedType(kind: .file, contentType: "audio/mpeg")
        }
        if ascii("RIFF"), ascii("WAVE", at: 8) { return SniffedType(kind: .file, contentType: "audio/wav") }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return SniffedType(kind: .file, contentType: "application/zip") }
        return .octetStream
    }

    private static func image(_ type: String, _ loader: String) -> SniffedType {
        SniffedType(kind: .image, contentType: type, loader: loader)
    }

    private static func video(_ type: String, _ demuxer: String) -> SniffedType {
        SniffedType(kind: .video, contentType: type, demuxer: demuxer)
    }

    public init(kind: MediaKind, contentType: String, loader: String? = nil, demuxer: String? = nil) {
        self.kind = kind
        self.contentType = contentType
        self.loader = loader
        self.demuxer = demuxer
    }
}
