import AsyncHTTPClient
import ChatAdmin
import Foundation
import GRDB
import NIOCore
import Testing

/// A real chatd killed with SIGKILL while it processes images: after the restart every image is processed, and
/// each exactly once in effect (one `media.processed` event, its job gone, its files whole).
@Suite(.serialized) struct MediaCrashTests {
    @Test func killedDuringProcessingEveryImageIsDoneOnceAfterTheRestart() async throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: data) }
        let file = data.appendingPathComponent("chatd.toml")
        try """
        [server]
        port = 0
        [metrics]
        port = 0
        [storage]
        data_dir = "\(data.path)"
        [auth]
        jwt_secret = "media-crash-secret-media-crash-secret-01"
        bcrypt_cost = 4
        [log]
        level = "notice"
        """.write(to: file, atomically: true, encoding: .utf8)
        let photo = [UInt8](try Data(contentsOf: try MediaFixtures.cameraJPEG(in: data)))

        let first = ChildChatd(arguments: ["--config", file.path], logFile: data.appendingPathComponent("first.log"))
        try await first.start()
        defer { first.terminate() }
        let alice = try await first.request(.POST, "/v1/auth/register", json: ["handle": "alice", "password": "password1"])
        let token = try #require(alice.json["access_token"].string)
        // The images wait in their queue until every upload is in; the kill comes right after the queue resumes, so
        // it always finds work to do or under way (on a fast or a slow machine alike).
        let socket = data.appendingPathComponent("admin.sock").path
        let admin = UnixHTTP(socket: socket)
        let paused = try admin.exchange(method: "POST", path: AdminAPI.pause("media"), body: nil, contentType: nil)
        #expect(paused.status == 200, "\(String(decoding: paused.body, as: UTF8.self))")
        var ids: [Int64] = []
        for index in 0..<6 {
            let ticket = try await first.request(
                .POST, "/v1/uploads", token: token,
                json: ["size": photo.count, "filename": "photo\(index).jpg", "content_type": "image/jpeg"])
            let url = try #require(ticket.json["url"].string)
            let put = try await first.put(url, photo)
            #expect(put.status == 201)
            ids.append(try #require(put.json["media"]["id"].int))
        }
        let resumed = try admin.exchange(method: "POST", path: AdminAPI.resume("media"), body: nil, contentType: nil)
        #expect(resumed.status == 200, "\(String(decoding: resumed.body, as: UTF8.self))")
        first.kill9()
        let uploaded = ids

        let database = try DatabaseQueue(path: data.path + "/db/chatd.sqlite")
        let interrupted = try await database.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs WHERE kind = 'media.process'") ?? 0
        }
        // Two at a time, a third of a second each, and the kill came as they began: some were to do or under way.
        #expect(interrupted > 0, "the kill came after every image was done; the test proved nothing")

        let second = ChildChatd(arguments: ["--config", file.path], logFile: data.appendingPathComponent("second.log"))
        try await second.start()
        defer { second.terminate() }
        try await eventually {
            try await database.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM media WHERE status = 'ready'") == uploaded.count
            }
        }
        let (events, jobs, statuses) = try await database.read { db in
            (
                try Int64.fetchAll(
                    db, sql: "SELECT json_extract(data, '$.media.id') FROM events WHERE type = 14 ORDER BY 1"),
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs") ?? -1,
                try String.fetchAll(db, sql: "SELECT status FROM media")
            )
        }
        #expect(events == ids, "one media.processed per image, none twice")
        #expect(jobs == 0)
        #expect(statuses == Array(repeating: "ready", count: ids.count))
        for id in ids {
            let display = data.appendingPathComponent("media/processed/images/\(id).jpg")
            #expect(try MediaFixtures.size(display) == (1200, 1600), "a whole display image for \(id)")
        }
    }
}

extension ChildChatd {
    /// PUTs bytes to a path of the child (a signed upload URL).
    func put(_ path: String, _ bytes: [UInt8]) async throws -> (status: Int, json: JSON) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 22)
        return (Int(response.status.code), JSON(data: Data(buffer: body)))
    }
}
