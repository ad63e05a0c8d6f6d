import CVipsShim
import Foundation
import Synchronization

/// libvips, through chatd's C shim (`CVipsShim`; its header states who owns what). Started once per process with
/// the loader allow-list in force; every call opens its own images and releases them before returning.
enum Vips {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    struct Header: Equatable {
        var width: Int
        var height: Int
        var pages: Int
        var hasAlpha: Bool
        var orientation: Int

        /// Pixels of every frame together: what decoding it would produce.
        var pixels: Int { width * height * max(pages, 1) }
    }

    enum Format {
        case jpeg(quality: Int)
        case png
        case gif

        var code: chatd_vips_format {
            switch self {
            case .jpeg: CHATD_VIPS_JPEG
            case .png: CHATD_VIPS_PNG
            case .gif: CHATD_VIPS_GIF
            }
        }

        var quality: Int32 {
            if case .jpeg(let quality) = self { return Int32(quality) }
            return 0
        }
    }

    private static let started = Mutex<Result<Void, Failure>?>(nil)
    /// libvips keeps one error buffer for the whole process: a call and the taking of its error must not interleave
    /// with another call, or one failure takes both messages and the other none. One call at a time; each already
    /// spreads one image over every core with libvips' own threads.
    private static let calls = Mutex(())

    /// Starts libvips (once; later calls return the first outcome). `concurrency` bounds its threads per image.
    static func start(concurrency: Int = 0) throws {
        try started.withLock { outcome in
            if outcome == nil {
                outcome = chatd_vips_start(Int32(concurrency)) == 0 ? .success(()) : .failure(Failure(description: takeError()))
            }
            return try outcome!.get()
        }
    }

    /// Whether libvips would run this loader at all (the allow-list's proof).
    static func isLoaderAllowed(_ nickname: String) -> Bool {
        chatd_vips_loader_allowed(nickname) != 0
    }

    static func probe(_ path: String, loader: String) throws -> Header {
        var header = chatd_vips_header()
        try calls.withLock { _ in
            guard chatd_vips_probe(path, loader, &header) == 0 else { throw Failure(description: takeError()) }
        }
        return Header(
            width: Int(header.width), height: Int(header.height), pages: Int(header.pages),
            hasAlpha: header.has_alpha != 0, orientation: Int(header.orientation))
    }

    /// Writes an upright, metadata-free copy of `input` at most `size` pixels on its longest side; returns its size.
    static func resize(_ input: String, size: Int, animated: Bool, to output: String, format: Format) throws
        -> (width: Int, height: Int)
    {
        var width: Int32 = 0
        var height: Int32 = 0
        try calls.withLock { _ in
            guard
                chatd_vips_resize(
                    input, Int32(size), animated ? 1 : 0, output, format.code, format.quality, &width, &height) == 0
            else { throw Failure(description: takeError()) }
        }
        return (Int(width), Int(height))
    }

    /// At most `size` × `size` sRGB pixels of an image, 3 bytes each.
    static func pixels(_ path: String, size: Int) throws -> (pixels: [UInt8], width: Int, height: Int) {
        var memory: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0
        var height: Int32 = 0
        try calls.withLock { _ in
            guard chatd_vips_pixels(path, Int32(size), &memory, &width, &height) == 0 else {
                throw Failure(description: takeError())
            }
        }
        guard let memory else { throw Failure(description: "libvips returned no pixels") }
        defer { chatd_vips_free(memory) }
        return (Array(UnsafeBufferPointer(start: memory, count: Int(width) * Int(height) * 3)), Int(width), Int(height))
    }

    static var trackedMemory: (now: Int, peak: Int) {
        (Int(chatd_vips_memory()), Int(chatd_vips_memory_peak()))
    }

    static func threadEnd() {
        chatd_vips_thread_end()
    }

    private static func takeError() -> String {
        guard let text = chatd_vips_take_error() else { return "libvips failed" }
        defer { chatd_vips_free(text) }
        let message = String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
        return message.isEmpty ? "libvips failed" : message
    }
}
