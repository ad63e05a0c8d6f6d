import ChatCore
import Foundation
import Testing

@testable import ChatMedia

/// libvips as chatd starts it: only the allow-listed loaders run, and the pipeline on real files.
@Suite struct PipelineTests {
    let folder: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("chatd-media-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    @Test func onlyTheAllowListedLoadersRun() throws {
        for allowed in ["jpegload", "pngload", "webpload", "gifload", "heifload", "jpegload_buffer"] {
            #expect(try Vips.isLoaderAllowed(allowed), "\(allowed)")
        }
        for blocked in ["svgload", "pdfload", "magickload", "tiffload", "matload", "fitsload", "openslideload", "csvload",
                        "vipsload", "jp2kload", "radload", "ppmload", "svgload_buffer", "magickload_buffer"] {
            #expect(try !Vips.isLoaderAllowed(blocked), "\(blocked) must never see a user's byte")
        }
    }

    @Test func aBlockedFormatFailsEvenWhenHandedStraightToLibvips() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let svg = folder.appendingPathComponent("holiday.jpg")
        try Data(#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>"#.utf8)
            .write(to: svg)
        // vips_thumbnail would pick svgload by the bytes: it is blocked.
        #expect(throws: Vips.Failure.self) {
            try Vips.resize(svg.path, size: 100, animated: false, to: folder.appendingPathComponent("out.jpg").path, format: .jpeg(quality: 80))
        }
        #expect(throws: Vips.Failure.self) { try Vips.probe(svg.path, loader: "svgload") }
        #expect(throws: Vips.Failure.self) { try Vips.probe(svg.path, loader: "jpegload") }
    }

    /// The expected hashes are what the reference implementation (PyPI `blurhash` 1.1.5, `encode(image, 4, 3)`)
    /// gives for the same pixels.
    @Test func blurhashMatchesTheReferenceEncoder() {
        let grey = [UInt8](repeating: 128, count: 8 * 8 * 3)
        #expect(Blurhash.encode(pixels: grey, width: 8, height: 8) == "L8Eyb[~qfQ~q~qt7fQt7fQfQfQfQ")
        var gradient: [UInt8] = []
        for y in 0..<6 {
            for x in 0..<8 { gradient += [UInt8(x * 30 % 256), UInt8(y * 30 % 256), UInt8(x * y * 7 % 256)] }
        }
        #expect(Blurhash.encode(pixels: gradient, width: 8, height: 6) == "LcE-tA2*a{$*zpNhfQnienf9fQf6")
    }
}
