import ChatCore
import Foundation
import Testing

@testable import ChatMedia

@Suite struct SnifferTests {
    func sniff(_ bytes: [UInt8]) -> SniffedType { SniffedType.sniff(bytes) }
    func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func imagesNameTheirOneLoader() {
        #expect(sniff([0xFF, 0xD8, 0xFF, 0xE1, 0, 0]).loader == "jpegload")
        #expect(sniff([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]).loader == "pngload")
        #expect(sniff(ascii("GIF89a....")).loader == "gifload")
        #expect(sniff(ascii("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ")).loader == "webpload")
        let heic = sniff([0, 0, 0, 24] + ascii("ftypheic") + [0, 0, 0, 0])
        #expect(heic == SniffedType(kind: .image, contentType: "image/heic", loader: "heifload"))
        #expect(sniff([0, 0, 0, 24] + ascii("ftypavif")).contentType == "image/avif")
    }

    @Test func videosNameTheirDemuxer() {
        #expect(sniff([0, 0, 0, 32] + ascii("ftypisom")) == SniffedType(kind: .video, contentType: "video/mp4", demuxer: "mov"))
        #expect(sniff([0, 0, 0, 20] + ascii("ftypqt  ")).contentType == "video/quicktime")
        #expect(sniff([0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x82, 0x84] + ascii("webm")).contentType == "video/webm")
        #expect(sniff([0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x82, 0x88] + ascii("matroska")).demuxer == "matroska")
    }

    @Test func whatIsNotAProcessedImageIsAFileWhateverItsName() {
        let svg = sniff(ascii("<?xml version=\"1.0\"?><svg xmlns="))
        #expect(svg == .octetStream)
        #expect(sniff(ascii("%PDF-1.7")).kind == .file)
        #expect(sniff(ascii("%PDF-1.7")).loader == nil)
        #expect(sniff(ascii("%!PS-Adobe-3.0")) == .octetStream)
        #expect(sniff([0, 0, 0, 24] + ascii("ftypM4A ")).contentType == "audio/mp4")
        #expect(sniff([]) == .octetStream)
        #expect(sniff([0xFF, 0xD8]) == .octetStream, "too short to be a JPEG")
    }
}

@Suite struct URLSignerTests {
    let signer = URLSigner(secret: "a-secret-that-is-long-enough-for-tests-0001")

    @Test func aSignatureCoversTheObjectTheSizeTheMethodAndTheTime() {
        let grant = URLSigner.Grant.upload(id: String(repeating: "a", count: 32), size: 100)
        let signature = signer.signature(grant, expires: 1_000)
        #expect(signer.verify(grant, expires: 1_000, signature: signature, now: 999) == .valid)
        #expect(signer.verify(grant, expires: 1_000, signature: signature, now: 1_001) == .expired)
        #expect(signer.verify(grant, expires: 2_000, signature: signature, now: 999) == .forged)
        #expect(signer.verify(.upload(id: String(repeating: "a", count: 32), size: 101), expires: 1_000, signature: signature, now: 0) == .forged)
        #expect(signer.verify(.download(media: 1, variant: .original), expires: 1_000, signature: signature, now: 0) == .forged)
        #expect(signer.verify(grant, expires: 1_000, signature: signature.uppercased(), now: 0) == .forged)
        let other = URLSigner(secret: "another-secret-that-is-long-enough-for-tests")
        #expect(other.verify(grant, expires: 1_000, signature: signature, now: 0) == .forged)
        #expect(signature.count == 64)
    }
}

@Suite struct FilenameTests {
    @Test func aFilenameIsANameNeverAPath() {
        #expect(MediaLibrary.cleanFilename("../../etc/passwd") == "passwd")
        #expect(MediaLibrary.cleanFilename("C:\\Users\\me\\photo.jpg") == "photo.jpg")
        #expect(MediaLibrary.cleanFilename("a\"b\u{0}c\u{202E}gpj.exe") == "abcgpj.exe")
        #expect(MediaLibrary.cleanFilename("..") == "file")
        #expect(MediaLibrary.cleanFilename("   ") == "file")
        #expect(MediaLibrary.cleanFilename(String(repeating: "é", count: 300)).utf8.count <= 200)
        #expect(MediaLibrary.cleanFilename("Ferien am Meer 🌊.heic") == "Ferien am Meer 🌊.heic")
    }

    @Test func partsOfAnUploadAreReadStrictly() {
        #expect(MediaLibrary.Part(contentRange: "bytes 0-99/1000") == MediaLibrary.Part(start: 0, end: 99, total: 1000))
        for bad in ["bytes 5-4/10", "bytes 0-10/10", "bytes */10", "bytes 0-9/*", "items 0-9/10", "bytes +0-9/10", "bytes 0-9"] {
            #expect(MediaLibrary.Part(contentRange: bad) == nil, "\(bad)")
        }
    }
}

@Suite struct UploadSlotTests {
    /// A newer PUT of an upload takes it over: the older one's next write, truncation or rename is refused, so it can
    /// never write into bytes the newer one reset or resumed from.
    @Test func aNewerPUTTakesTheUploadOver() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("slot-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let slot = UploadSlot(path: path)
        #expect(try slot.takeOver(by: 1, truncate: true) == 0)
        let older = open(path, O_RDWR)
        defer { close(older) }
        try Array("hello".utf8).withUnsafeBytes { try slot.write($0, at: 0, by: 1, descriptor: older) }
        // The phone resumes from byte 5 on a new connection.
        #expect(try slot.takeOver(by: 2, truncate: false) == 5)
        #expect(throws: UploadSlot.Superseded.self) {
            try Array("XX".utf8).withUnsafeBytes { try slot.write($0, at: 5, by: 1, descriptor: older) }
        }
        #expect(throws: UploadSlot.Superseded.self) { try slot.truncate(to: 0, by: 1, descriptor: older) }
        #expect(throws: UploadSlot.Superseded.self) {
            try slot.finish(to: URL(fileURLWithPath: path + ".final"), by: 1)
        }
        #expect(!slot.owned(by: 1) && slot.owned(by: 2))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "hello")
    }
}
