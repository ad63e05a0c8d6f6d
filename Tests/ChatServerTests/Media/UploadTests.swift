import ChatCore
import ChatMedia
import Crypto
import Foundation
import HTTPTypes
import Testing

@testable import ChatServer

/// Signed upload URLs: resuming after a cut, and every way a URL can be wrong.
@Suite struct UploadTests {
    static let bytes: [UInt8] = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }

    static func hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    @Test func anUploadCutInHalfResumesWhereItStopped() async throws {
        try await withServer(mediaConfig()) { api in
            let alice = try await api.register("alice")
            let ticket = try await api.startUpload(
                alice, size: Self.bytes.count, filename: "notes.bin", type: "application/octet-stream",
                sha256: Self.hex(Self.bytes))
            let url = try #require(ticket["url"].string)
            #expect(ticket["upload_id"].string?.count == 32)

            // The phone loses its connection halfway: the head promised everything, half the body came.
            let half = Self.bytes.count / 2
            let socket = try TCPClient(port: api.port)
            _ = try socket.write(
                "PUT \(url) HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                    + "Content-Length: \(Self.bytes.count)\r\n\r\n")
            _ = try socket.write(Array(Self.bytes[..<half]))
            shutdown(socket.fd, Int32(SHUT_RDWR))

            // It asks how much arrived (the server may still be writing the last chunk) and sends the rest.
            var received: Int64 = -1
            try await eventually {
                let head = try await api.call(.head, url)
                received = Int64(head.headers[HTTPField.Name("Upload-Offset")!] ?? "") ?? -1
                return received == Int64(half)
            }
            let head = try await api.call(.head, url)
            #expect(head.status == 200)
            #expect(head.headers[HTTPField.Name("Upload-Length")!] == String(Self.bytes.count))
            #expect(head.headers[.range] == "bytes=0-\(half - 1)")

            // A part that does not start where the bytes end is refused, and says where to start. On a connection of
            // its own: a refusal answered before its body is in ends the connection, and the test client does not
            // reconnect.
            let gapPart = Array(Self.bytes[(half + 10)...])
            let refused = try TCPClient(port: api.port)
            _ = try refused.write(
                "PUT \(url) HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                    + "Content-Range: bytes \(half + 10)-\(Self.bytes.count - 1)/\(Self.bytes.count)\r\n"
                    + "Content-Length: \(gapPart.count)\r\n\r\n")
            _ = try refused.write(gapPart)
            shutdown(refused.fd, Int32(SHUT_WR))
            let gap = try await refused.closedAfter().lowercased()
            #expect(gap.hasPrefix("http/1.1 409"), "\(gap.prefix(300))")
            #expect(gap.contains("\r\nupload-offset: \(half)\r\n"), "\(gap.prefix(300))")

            let rest = try await api.put(
                url, Array(Self.bytes[half...]), range: "bytes \(half)-\(Self.bytes.count - 1)/\(Self.bytes.count)")
            #expect(rest.status == 201, "\(rest.text)")
            #expect(rest["media"]["sha256"].string == Self.hex(Self.bytes), "hashed across both requests")
            #expect(rest["media"]["size"].int == Int64(Self.bytes.count))

            // The URL is spent: a replay changes nothing.
            let replay = try await api.put(url, Self.bytes)
            #expect(replay.status == 409)
            #expect(replay.errorCode == "conflict")
            let id = try #require(rest["media"]["id"].int)
            let copy = try await api.download(alice, media: id, "original")
            #expect(copy.headers[.contentLength] == String(Self.bytes.count))
        }
    }

    @Test func uploadsInPartsAnswer202UntilTheLast() async throws {
        try await withServer(mediaConfig()) { api in
            let alice = try await api.register("alice")
            let ticket = try await api.startUpload(alice, size: 10, filename: "a.txt", type: "text/plain")
            let url = try #require(ticket["url"].string)
            let first = try await api.put(url, Array("01234".utf8), range: "bytes 0-4/10")
            #expect(first.status == 202)
            #expect(first["received"].int == 5)
            let last = try await api.put(url, Array("56789".utf8), range: "bytes 5-9/10")
            #expect(last.status == 201)
            #expect(last["media"]["content_type"].string == "application/octet-stream")
        }
    }

    @Test func forgedExpiredMismatchedAndTraversingURLsAreRefused() async throws {
        let config = mediaConfig()
        try await withServer(config) { api in
            let alice = try await api.register("alice")
            let small = try await api.startUpload(alice, size: 4, filename: "a", type: "text/plain")
            let other = try await api.startUpload(alice, size: 8, filename: "b", type: "text/plain")
            let url = try #require(small["url"].string)
            let id = try #require(small["upload_id"].string)
            let otherId = try #require(other["upload_id"].string)
            let query = try #require(url.split(separator: "?").last)
            let signer = URLSigner(secret: testSecret)
            let past = Clock.nowMillis() / 1000 - 5
            let expired = "/v1/uploads/\(id)?expires=\(past)&signature=\(signer.signature(.upload(id: id, size: 4), expires: past))"
            var forged = url
            forged.replaceSubrange(forged.index(before: forged.endIndex)..., with: url.hasSuffix("0") ? "1" : "0")
            let longer = Int64(query.split(separator: "&")[0].dropFirst(8))! + 3600
            let stretched = "/v1/uploads/\(id)?expires=\(longer)&\(query.split(separator: "&")[1])"
            for (bad, why) in [
                (expired, "expired"), (forged, "forged"), (stretched, "a later expiry"),
                ("/v1/uploads/\(otherId)?\(query)", "another upload's signature"),
                ("/v1/uploads/\(id)", "no signature"),
                ("/v1/uploads/..%2F..%2Fdb%2Fchatd.sqlite?\(query)", "a path"),
                ("/v1/uploads/\(id.uppercased())?\(query)", "another spelling of the id"),
            ] {
                let reply = try await api.put(bad, Array("abcd".utf8))
                #expect(reply.status == 403, "\(why): \(reply.status) \(reply.text)")
                #expect(reply.errorCode == "forbidden", "\(why)")
                #expect(try await api.call(.head, bad).status == 403, "\(why)")
            }
            // A signed size is the size: more bytes are refused and undone.
            let tooMany = try await api.put(url, Array("abcdefgh".utf8))
            #expect(tooMany.status == 413)
            #expect(try await api.call(.head, url).headers[HTTPField.Name("Upload-Offset")!] == "0")
            #expect(try await api.put(url, Array("abcd".utf8), range: "bytes 0-3/5").status == 400)

            // Download URLs: a variant or a media id the signature does not cover, and paths, are refused.
            let media = try await api.put(url, Array("abcd".utf8))
            let mediaId = try #require(media["media"]["id"].int)
            let links = try await api.call(.get, "/v1/media/\(mediaId)", token: alice.token)
            let download = try #require(links["urls"]["original"].string)
            let downloadQuery = try #require(download.split(separator: "?").last)
            #expect(try await api.call(.get, download).status == 200)
            for bad in [
                "/v1/media/\(mediaId)/display?\(downloadQuery)", "/v1/media/\(mediaId + 1)/original?\(downloadQuery)",
                "/v1/media/\(mediaId)/original", "/v1/media/\(mediaId)/..%2F..%2F..%2Fdb?\(downloadQuery)",
                "/v1/media/\(mediaId)/original?expires=1&signature=00",
            ] {
                let reply = try await api.call(.get, bad)
                #expect([403, 404].contains(reply.status), "\(bad): \(reply.status)")
                #expect(reply.headers[.contentType]?.hasPrefix("application/json") == true)
            }
            // Files stay where the server put them, under names it made.
            let final = URL(fileURLWithPath: config.storage.dataDirectory + "/media/uploads/final/\(alice.id)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: final.path) == [id])
        }
    }

    @Test func sizesAndTheQuotaAreCheckedBeforeAByteIsSent() async throws {
        try await withServer(mediaConfig { $0.media.userQuotaBytes = 10_000; $0.media.maxImageBytes = 5_000 }) { api in
            let alice = try await api.register("alice")
            let big = try await api.startUpload(alice, size: 6_000, filename: "big.jpg", type: "image/jpeg")
            #expect(big.status == 413)
            #expect(big.errorCode == "payload_too_large")
            #expect(try await api.startUpload(alice, size: 6_000, filename: "notes.txt", type: "text/plain").status == 201)
            let over = try await api.startUpload(alice, size: 5_000, filename: "more.txt", type: "text/plain")
            #expect(over.status == 413)
            #expect(over.errorCode == "quota_exceeded")
            for body in [
                ["size": 0, "filename": "a", "content_type": "text/plain"],
                ["size": 10, "filename": "", "content_type": "text/plain"],
                ["size": 10, "filename": "a", "content_type": "nonsense"],
                ["size": 10, "filename": "a", "content_type": "text/plain", "sha256": "XYZ"],
            ] as [[String: Any]] {
                let reply = try await api.call(.post, "/v1/uploads", token: alice.token, json: body)
                #expect(reply.status == 400, "\(body): \(reply.text)")
            }
            // A file declared as text but holding a JPEG counts as an image, whose limit it exceeds.
            let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 1, count: 5_996)
            let ticket = try await api.startUpload(alice, size: jpeg.count, filename: "x.txt", type: "text/plain")
            #expect(ticket.status == 413, "the quota still holds 6000 bytes: \(ticket.text)")
        }
    }

    @Test func aMessageCarriesOnlyItsSendersMedia() async throws {
        try await withServer(mediaConfig()) { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let direct = try await api.direct(alice, with: bob)
            let media = try await api.upload(bob, Array("hello".utf8), filename: "b.txt", type: "text/plain")
            let bobs = try #require(media["id"].int)
            let refused = try await api.sendMedia(alice, direct, [bobs])
            #expect(refused.status == 404, "\(refused.text)")
            #expect(try await api.sendMedia(alice, direct, []).status == 400, "no text and no attachment")
            #expect(try await api.sendMedia(alice, direct, Array(1...11)).status == 400, "at most 10")
            #expect(try await api.sendMedia(bob, direct, [bobs, bobs]).status == 400, "twice")
            let sent = try await api.sendMedia(bob, direct, [bobs])
            #expect(sent.status == 201)
            #expect(sent["message"]["text"].string == "")
            #expect(sent["message"]["attachments"][0]["filename"].string == "b.txt")

            // The socket's send takes attachments the same way, with the same rules.
            let (socket, _) = try await api.liveSocket(bob)
            let refusedFrame = try await socket.request([
                "type": "send", "conversation_id": direct, "client_id": "ws-1", "attachments": [bobs, bobs],
            ])
            #expect(refusedFrame["status"].int == 400, "\(refusedFrame)")
            let frame = try await socket.request([
                "type": "send", "conversation_id": direct, "client_id": "ws-2", "text": "again", "attachments": [bobs],
            ])
            #expect(frame["status"].int == 201, "\(frame)")
            #expect(frame["result"]["message"]["attachments"][0]["id"].int == bobs)
            await socket.close()
        }
    }
}
