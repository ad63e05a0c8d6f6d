import ChatCore
import ChatFiles
import Foundation
import Synchronization

/// Turns an image that chatd accepts into what every phone shows: an upright, metadata-free display image and a
/// thumbnail, with the original's upright dimensions and a blurhash. Refuses, from the header and before decoding a
/// pixel, an image with more pixels than allowed (a decompression bomb is a small file with huge dimensions).
public struct ImageProcessor: Sendable {
    public var maxPixels: Int
    public var displaySize: Int
    public var thumbnailSize: Int
    public var jpegQuality: Int

    public init(maxPixels: Int = 50_000_000, displaySize: Int = 1600, thumbnailSize: Int = 320, jpegQuality: Int = 82) {
        self.maxPixels = maxPixels
        self.displaySize = displaySize
        self.thumbnailSize = thumbnailSize
        self.jpegQuality = jpegQuality
    }

    /// Starts chatd-imaging, the process libvips runs in with chatd's loader allow-list, at start-up so a broken
    /// install shows at once. It exits after a while without images and starts again with the next one.
    public static func startLibvips() throws {
        // The first question starts the worker (or throws why it cannot start).
        let restricted = try !refusedLoaders.contains { try Vips.isLoaderAllowed($0) }
        loaderCheck.withLock { $0 = restricted }
    }

    private static let loaderCheck = Mutex(false)

    /// Loaders libvips must refuse: formats with a history of parser bugs, or that reach outside the file (SVG
    /// fetches, PDF, ImageMagick's hundred formats, scientific formats).
    static let refusedLoaders = [
        "svgload", "pdfload", "magickload", "matload", "fitsload", "openslideload", "csvload", "matrixload", "ppmload",
        "radload", "vipsload", "analyzeload", "rawload",
    ]

    /// Whether libvips, as started by `startLibvips`, refuses every loader above (what `chatctl check` reports):
    /// found once at start-up, since the allow-list is compiled into chatd-imaging.
    public static var loadersRestricted: Bool { loaderCheck.withLock { $0 } }

    public struct Output: Sendable, Equatable {
        /// The original's dimensions once upright.
        public var width: Int
        public var height: Int
        public var displayType: String
        public var thumbnailType: String
        public var blurhash: String
    }

    /// Why an image is refused for good (retrying cannot help).
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Reads `input` with the loader sniffing chose and writes the display image and thumbnail to `display` and
    /// `thumbnail` (whole files: written aside, then renamed). Blocking: run it off the cooperative pool.
    public func process(_ input: URL, as type: SniffedType, display: (String) -> URL, thumbnail: (String) -> URL)
        throws -> Output
    {
        guard type.kind == .image, let loader = type.loader else {
            throw Refusal(description: "not an image chatd processes (\(type.contentType))")
        }
        let header: Vips.Header
        do {
            header = try Vips.probe(input.path, loader: loader)
        } catch {
            throw Refusal(description: "unreadable \(type.contentType): \(error)")
        }
        guard header.width > 0, header.height > 0, header.pixels <= maxPixels else {
            throw Refusal(
                description: "the image has \(header.width)×\(header.height)"
                    + (header.pages > 1 ? "×\(header.pages) frames" : "")
                    + " pixels, more than the \(maxPixels) allowed")
        }
        let animated = header.pages > 1 && (loader == "gifload" || loader == "webpload")
        let still: Vips.Format = header.hasAlpha ? .png : .jpeg(quality: jpegQuality)
        let displayFormat: Vips.Format = animated ? .gif : still
        let displayType = Self.type(displayFormat)
        let thumbnailType = Self.type(still)
        let displayURL = display(displayType)
        let thumbnailURL = thumbnail(thumbnailType)
        let displayAside = DurableFile.aside(displayURL)
        let thumbnailAside = DurableFile.aside(thumbnailURL)
        defer {
            try? FileManager.default.removeItem(at: displayAside)
            try? FileManager.default.removeItem(at: thumbnailAside)
        }
        try FileManager.default.createDirectory(
            at: displayURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: thumbnailURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        do {
            _ = try Vips.resize(input.path, size: displaySize, animated: animated, to: displayAside.path, format: displayFormat)
            // The thumbnail comes from the display image, not the original: a fraction of the pixels to decode.
            _ = try Vips.resize(displayAside.path, size: thumbnailSize, animated: false, to: thumbnailAside.path, format: still)
        } catch {
            throw Refusal(description: "libvips could not process the \(type.contentType): \(error)")
        }
        let small = try Vips.pixels(thumbnailAside.path, size: 32)
        let hash = Blurhash.encode(pixels: small.pixels, width: small.width, height: small.height)
        try DurableFile.commit(displayAside, to: displayURL)
        try DurableFile.commit(thumbnailAside, to: thumbnailURL)
        let sideways = (5...8).contains(header.orientation)
        return Output(
            width: sideways ? header.height : header.width, height: sideways ? header.width : header.height,
            displayType: displayType, thumbnailType: thumbnailType, blurhash: hash)
    }

    private static func type(_ format: Vips.Format) -> String {
        switch format {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .gif: "image/gif"
        }
    }
}
