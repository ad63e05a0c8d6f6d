import Foundation

/// libvips, in chatd-imaging (`ImagingWorker`): the loader allow-list is applied there when libvips starts; every
/// request opens its own images and releases them before answering. One request at a time, each already spreading
/// one image over every core with libvips' own threads.
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

        /// Its number in chatd-imaging's `resize` (chatd_vips_format).
        var code: Int {
            switch self {
            case .jpeg: 0
            case .png: 1
            case .gif: 2
            }
        }

        var quality: Int {
            if case .jpeg(let quality) = self { return quality }
            return 0
        }
    }

    static let worker = ImagingWorker(executable: ImagingWorker.locate())

    /// Whether libvips would run this loader at all (the allow-list's proof).
    static func isLoaderAllowed(_ nickname: String) throws -> Bool {
        try call(["allowed", nickname]) == ["1"]
    }

    static func probe(_ path: String, loader: String) throws -> Header {
        let words = try numbers(call(["probe", loader, path]), count: 5)
        return Header(width: words[0], height: words[1], pages: words[2], hasAlpha: words[3] != 0, orientation: words[4])
    }

    /// Writes an upright, metadata-free copy of `input` at most `size` pixels on its longest side; returns its size.
    static func resize(_ input: String, size: Int, animated: Bool, to output: String, format: Format) throws
        -> (width: Int, height: Int)
    {
        let words = try numbers(
            call(["resize", "\(size)", animated ? "1" : "0", "\(format.code)", "\(format.quality)", input, output]), count: 2)
        return (words[0], words[1])
    }

    /// At most `size` × `size` sRGB pixels of an image, 3 bytes each.
    static func pixels(_ path: String, size: Int) throws -> (pixels: [UInt8], width: Int, height: Int) {
        let words = try call(["pixels", "\(size)", path])
        let dimensions = try numbers(Array(words.prefix(2)), count: 2)
        let hex = words.count == 3 ? words[2].utf8 : Substring().utf8
        guard hex.count == dimensions[0] * dimensions[1] * 6, let pixels = Hexadecimal.decode(hex) else {
            throw Failure(description: "chatd-imaging sent \(hex.count / 2) bytes for \(dimensions[0])×\(dimensions[1]) pixels")
        }
        return (pixels, dimensions[0], dimensions[1])
    }

    private static func call(_ fields: [String]) throws -> [Substring] {
        do {
            return try worker.request(fields)
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    private static func numbers(_ words: [Substring], count: Int) throws -> [Int] {
        let values = words.compactMap { Int($0) }
        guard values.count == count, words.count == count else {
            throw Failure(description: "chatd-imaging answered '\(words.joined(separator: " ").prefix(200))'")
        }
        return values
    }
}
