import ChatCore
import Foundation
import HTTPTypes
import NIOCore
import Testing

@testable import ChatServer

/// The whole media path on a real server with real libvips: upload over a signed URL, send in a message, the
/// members get the processed event over the socket, then download the variants and read them back with libvips.
@Suite struct MediaFlowTests {
    let folder = temporaryDirectory()

    @Test func aCameraPhotoArrivesUprightWithoutItsLocation() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let photo = try MediaFixtures.cameraJPEG(in: folder)
        let original = try MediaFixtures.header(photo)
        #expect(original.contains("GPSLatitude"), "the test photo carries GPS tags")
        #expect(original.contains("orientation: 6"))
        try await withServer(mediaConfig()) { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let direct = try await api.direct(alice, with: bob)
            let (bobSocket, _) = try await api.liveSocket(bob)
            let media = try await api.upload(alice, file: photo, type: "image/jpeg")
            let id = try #require(media["id"].int)
            #expect(media["kind"].string == "image")
            #expect(media["content_type"].string == "image/jpeg")
            #expect(media["status"].string == "processing")
            #expect(media["size"].int == Int64(try Data(contentsOf: photo).count))

            let sent = try await api.sendMedia(alice, direct, [id], text: "look")
            #expect(sent.status == 201, "\(sent.text)")
            #expect(sent["message"]["attachments"][0]["id"].int == id)
            let created = try await bobSocket.first(
                where: { $0["event"]["type"].string == "message.created" }, timeout: .seconds(5), line: #line)
            let attached = created["event"]["data"]["message"]["attachments"][0]
            #expect(attached["id"].int == id)

            // Processing may end before the message is sent: the message then carries the processed media, and no
            // conversation had it to be told. Otherwise media.processed follows.
            var processed = attached
            if attached["status"].string != "ready" {
                let event = try await mediaEvent(bobSocket, media: id)
                #expect(event["event"]["type"].string == "media.processed", "\(event)")
                #expect(event["event"]["conversation_id"].int == direct)
                #expect(event["event"]["data"]["seqs"].array.map(\.int) == [1])
                processed = event["event"]["data"]["media"]
            }
            #expect(processed["status"].string == "ready")
            #expect(processed["width"].int == 3000 && processed["height"].int == 4000, "upright: portrait")
            #expect((processed["blurhash"].string ?? "").count == 28)
            #expect(processed["variants"].array.compactMap(\.string) == ["display", "thumbnail"])

            // History shows the processed state: the message's attachments were brought up to date.
            let history = try await api.call(.get, "/v1/conversations/\(direct)/messages", token: bob.token)
            #expect(history["messages"][0]["attachments"][0]["status"].string == "ready")

            let display = try await api.downloadFile(bob, media: id, "display", to: folder)
            #expect(try MediaFixtures.size(display) == (1200, 1600), "the longest side is 1600 and it stands upright")
            let thumbnail = try await api.downloadFile(bob, media: id, "thumbnail", to: folder)
            #expect(try MediaFixtures.size(thumbnail) == (240, 320))
            for file in [display, thumbnail] {
                let header = try MediaFixtures.header(file)
                #expect(!header.contains("exif"), "no EXIF left: \(header)")
                #expect(!header.contains("GPS"))
                #expect(!header.contains("orientation: 6"))
            }
            let originalCopy = try await api.downloadFile(alice, media: id, "original", to: folder)
            #expect(try Data(contentsOf: originalCopy) == Data(contentsOf: photo), "the original is kept as sent")
            await bobSocket.close()
        }
    }

    @Test func downloadsCarryTheirTypeAndServeRanges() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try await withServer(mediaConfig()) { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let carol = try await api.register("carol")
            let direct = try await api.direct(alice, with: bob)
            let bytes = Array("%PDF-1.4\n".utf8) + (0..<1000).map { UInt8(0x20 + $0 % 90) }
            let media = try await api.upload(alice, bytes, filename: "../../etc/passwd\".pdf", type: "application/pdf")
            let id = try #require(media["id"].int)
            #expect(media["kind"].string == "file")
            #expect(media["status"].string == "ready", "a file is not processed")
            #expect(media["filename"].string == "passwd.pdf", "only the last name, without quotes")

            // Nobody but the owner reads it until it is sent.
            #expect(try await api.call(.get, "/v1/media/\(id)", token: bob.token).status == 404)
            #expect(try await api.sendMedia(alice, direct, [id]).status == 201)
            let whole = try await api.download(bob, media: id, "original")
            #expect(whole.status == 200)
            #expect(whole.headers[.contentType] == "application/pdf")
            #expect(whole.headers[.contentDisposition]?.hasPrefix("attachment; filename=\"passwd.pdf\"") == true)
            #expect(whole.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(whole.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
            #expect(whole.headers[.cacheControl]?.contains("max-age") == true)
            #expect(Array(whole.text.utf8) == bytes)
            let etag = try #require(whole.headers[.eTag])

            let part = try await api.download(bob, media: id, "original", headers: [.range: "bytes=5-9"])
            #expect(part.status == 206)
            #expect(part.headers[.contentRange] == "bytes 5-9/\(bytes.count)")
            #expect(Array(part.text.utf8) == Array(bytes[5...9]))
            let tail = try await api.download(bob, media: id, "original", headers: [.range: "bytes=-4"])
            #expect(Array(tail.text.utf8) == Array(bytes.suffix(4)))
            let outside = try await api.download(bob, media: id, "original", headers: [.range: "bytes=5000-"])
            #expect(outside.status == 416)
            #expect(outside.errorCode == "range_not_satisfiable")
            #expect(outside.headers[.contentRange] == "bytes */\(bytes.count)")
            let cached = try await api.download(bob, media: id, "original", headers: [.ifNoneMatch: etag])
            #expect(cached.status == 304)

            // A stranger gets nothing, not even a hint that it exists.
            #expect(try await api.call(.get, "/v1/media/\(id)", token: carol.token).status == 404)
            // Once the message is deleted, its media is the owner's alone again.
            #expect(try await api.call(.delete, "/v1/conversations/\(direct)/messages/1", token: alice.token).status == 200)
            #expect(try await api.call(.get, "/v1/media/\(id)", token: bob.token).status == 404)
            #expect(try await api.call(.get, "/v1/media/\(id)", token: alice.token).status == 200)
        }
    }

    @Test func transparentAnimatedAndHEICImagesBecomeWhatPhonesShow() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try await withServer(mediaConfig()) { api in
            let alice = try await api.register("alice")
            let (socket, _) = try await api.liveSocket(alice)
            var cases: [(URL, String, String)] = [
                (try MediaFixtures.transparentPNG(in: folder), "image/png", "image/png"),
                (try MediaFixtures.animatedGIF(in: folder), "image/gif", "image/gif"),
            ]
            if let heic = try MediaFixtures.heic(in: folder) { cases.append((heic, "image/heic", "image/jpeg")) }
            for (file, declared, displayType) in cases {
                let media = try await api.upload(alice, file: file, type: declared)
                let id = try #require(media["id"].int)
                // Not sent anywhere yet: the owner alone is told.
                let event = try await mediaEvent(socket, media: id)
                #expect(event["event"]["type"].string == "media.processed", "\(file.lastPathComponent): \(event)")
                #expect(event["event"]["conversation_id"].isNull)
                let display = try await api.downloadFile(alice, media: id, "display", to: folder)
                let served = try await api.download(alice, media: id, "display")
                #expect(served.headers[.contentType] == displayType, "\(file.lastPathComponent)")
                #expect(served.headers[.contentDisposition]?.hasPrefix("inline") == true)
                let header = try MediaFixtures.header(display)
                if declared == "image/png" { #expect(header.contains("bands: 4"), "the alpha channel is kept") }
                if declared == "image/gif" { #expect(header.contains("n-pages: 10"), "every frame is kept: \(header)") }
            }
            await socket.close()
        }
    }

    @Test func aVideoGetsItsMetadataAndAPoster() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try #require(MediaFixtures.isInstalled("ffmpeg"), "scripts/deps.sh installs ffmpeg")
        let clip = try MediaFixtures.video(in: folder)
        try await withServer(mediaConfig()) { api in
            let alice = try await api.register("alice")
            let (socket, _) = try await api.liveSocket(alice)
            let media = try await api.upload(alice, file: clip, type: "video/mp4")
            let id = try #require(media["id"].int)
            #expect(media["kind"].string == "video")
            #expect(media["content_type"].string == "video/mp4")
            let event = try await mediaEvent(socket, media: id)
            let processed = event["event"]["data"]["media"]
            #expect(event["event"]["type"].string == "media.processed", "\(event)")
            #expect(processed["width"].int == 320 && processed["height"].int == 240)
            #expect((1900...2100).contains(processed["duration_ms"].int ?? 0))
            #expect(processed["codecs"].array.compactMap(\.string) == ["h264", "aac"])
            let poster = try await api.downloadFile(alice, media: id, "thumbnail", to: folder)
            #expect(try MediaFixtures.size(poster) == (320, 240))
            let original = try await api.download(alice, media: id, "original")
            #expect(original.headers[.contentDisposition]?.hasPrefix("inline") == true)
            await socket.close()
        }
    }

    @Test func aDecompressionBombAndACorruptImageFailVisiblyAfterTheirAttempts() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = mediaConfig()
        try await withServer(config) { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let direct = try await api.direct(alice, with: bob)
            let (socket, _) = try await api.liveSocket(alice)
            let bomb = try await api.upload(alice, MediaFixtures.decompressionBomb(), filename: "bomb.png", type: "image/png")
            let corrupt = try await api.upload(alice, MediaFixtures.corruptJPEG(), filename: "broken.jpg", type: "image/jpeg")
            let bombId = try #require(bomb["id"].int)
            let corruptId = try #require(corrupt["id"].int)
            #expect(try await api.sendMedia(alice, direct, [bombId, corruptId], text: "two").status == 201)
            for (id, reason) in [(bombId, "more than the 50000000 allowed"), (corruptId, "VipsJpeg")] {
                let event = try await mediaEvent(socket, media: id, timeout: .seconds(30))
                #expect(event["event"]["type"].string == "media.failed", "\(event)")
                let failed = event["event"]["data"]["media"]
                #expect(failed["status"].string == "failed")
                #expect(failed["error"].string?.contains(reason) == true, "\(failed)")
            }
            // Dead letters: visible with their attempts, for an operator to retry or purge.
            try await eventually { try JobRows(config).dead(kind: "media.process").count == 2 }
            #expect(try JobRows(config).dead(kind: "media.process").allSatisfy { $0.attempts == 3 })
            await socket.close()
        }
    }

    @Test func filesThatPretendToBeImagesNeverReachAnImageLoader() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = mediaConfig()
        try await withServer(config) { api in
            let alice = try await api.register("alice")
            for (bytes, type) in [
                (MediaFixtures.svg, "application/octet-stream"), (MediaFixtures.pdf, "application/pdf"),
                (MediaFixtures.postScript, "application/octet-stream"),
            ] {
                let media = try await api.upload(alice, bytes, filename: "holiday.jpg", type: "image/jpeg")
                #expect(media["kind"].string == "file", "\(media)")
                #expect(media["content_type"].string == type)
                #expect(media["status"].string == "ready", "nothing was queued for processing")
                let served = try await api.download(alice, media: try #require(media["id"].int), "original")
                #expect(served.headers[.contentType] == type)
                #expect(served.headers[.contentDisposition]?.hasPrefix("attachment") == true)
            }
            #expect(try JobRows(config).all(kind: "media.process").isEmpty)
        }
    }
}

