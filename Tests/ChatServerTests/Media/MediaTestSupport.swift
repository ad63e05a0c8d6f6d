import ChatConfiguration
import GRDB
import Foundation
import HTTPTypes
import Testing

/// A config for media tests: retries a second apart, so a failing image is dead within seconds.
func mediaConfig(_ adjust: (inout ChatConfig) -> Void = { _ in }) -> ChatConfig {
    testConfig { config in
        config.jobs.queues["media"]?.backoffSeconds = 1
        config.jobs.queues["media"]?.maxBackoffSeconds = 1
        adjust(&config)
    }
}

extension API {
    /// `POST /v1/uploads`: the reply, whose `url` takes the bytes.
    func startUpload(_ user: TestUser, size: Int, filename: String, type: String, sha256: String? = nil) async throws
        -> Reply
    {
        var body: [String: Any] = ["size": size, "filename": filename, "content_type": type]
        if let sha256 { body["sha256"] = sha256 }
        return try await call(.post, "/v1/uploads", token: user.token, json: body)
    }

    /// PUTs bytes to a signed URL.
    func put(_ url: String, _ bytes: [UInt8], range: String? = nil) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/octet-stream"]
        if let range { headers[.contentRange] = range }
        return try await call(.put, url, rawBytes: bytes, headers: headers)
    }

    /// Uploads a whole file and returns the media the server made of it.
    func upload(_ user: TestUser, _ bytes: [UInt8], filename: String, type: String, line: Int = #line) async throws
        -> JSON
    {
        let ticket = try await startUpload(user, size: bytes.count, filename: filename, type: type)
        #expect(ticket.status == 201, "line \(line): \(ticket.text)")
        let reply = try await put(ticket["url"].string ?? "", bytes)
        #expect(reply.status == 201, "line \(line): \(reply.text)")
        return reply["media"]
    }

    func upload(_ user: TestUser, file: URL, type: String, line: Int = #line) async throws -> JSON {
        try await upload(user, [UInt8](try Data(contentsOf: file)), filename: file.lastPathComponent, type: type, line: line)
    }

    /// Sends a message carrying media.
    func sendMedia(_ user: TestUser, _ conversation: Int64, _ media: [Int64], text: String? = nil) async throws -> Reply {
        var body: [String: Any] = ["client_id": UUID().uuidString, "attachments": media]
        if let text { body["text"] = text }
        return try await call(.post, "/v1/conversations/\(conversation)/messages", token: user.token, json: body)
    }

    /// Downloads a variant through the signed URL `GET /v1/media/{id}` hands out.
    func download(_ user: TestUser, media: Int64, _ variant: String, headers: HTTPFields = [:]) async throws -> Reply {
        let links = try await call(.get, "/v1/media/\(media)", token: user.token)
        #expect(links.status == 200, "\(links.text)")
        let url = try #require(links["urls"][variant].string, "no \(variant) in \(links.text)")
        return try await call(.get, url, headers: headers)
    }

    /// The bytes of a download, written to a file for libvips to read back.
    func downloadFile(_ user: TestUser, media: Int64, _ variant: String, to folder: URL) async throws -> URL {
        let links = try await call(.get, "/v1/media/\(media)", token: user.token)
        let url = try #require(links["urls"][variant].string, "no \(variant) in \(links.text)")
        let response = try await client.execute(uri: url, method: .get, headers: [:], body: nil)
        #expect(response.status.code == 200)
        let file = folder.appendingPathComponent("\(media)-\(variant)")
        try Data(buffer: response.body).write(to: file)
        return file
    }
}

/// The first `media.processed` or `media.failed` event of a media id on a socket.
func mediaEvent(_ socket: Socket, media: Int64, timeout: Duration = .seconds(20)) async throws -> JSON {
    try await socket.first(
        where: {
            $0["type"].string == "event" && ($0["event"]["type"].string ?? "").hasPrefix("media.")
                && $0["event"]["data"]["media"]["id"].int == media
        }, timeout: timeout, line: #line)
}

/// The job table of a server under test, read from the side like `DatabaseWatch` does.
struct JobRows {
    struct Row: Equatable {
        var kind: String
        var state: String
        var attempts: Int
        var lastError: String?
    }

    let queue: DatabaseQueue

    init(_ config: ChatConfig) throws {
        var configuration = Configuration()
        configuration.readonly = true
        queue = try DatabaseQueue(path: config.storage.dataDirectory + "/db/chatd.sqlite", configuration: configuration)
    }

    func all(kind: String) throws -> [Row] {
        try queue.read { db in
            try GRDB.Row.fetchAll(
                db, sql: "SELECT kind, state, attempts, last_error FROM jobs WHERE kind = ? ORDER BY id", arguments: [kind]
            ).map { Row(kind: $0[0], state: $0[1], attempts: $0[2], lastError: $0[3]) }
        }
    }

    func dead(kind: String) throws -> [Row] {
        try all(kind: kind).filter { $0.state == "dead" }
    }
}

/// Waits (up to 20 s) until `condition` holds: for things that must happen, never for things that must not.
func eventually(_ condition: () async throws -> Bool, line: Int = #line) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("the condition at line \(line) did not hold within 20 s")
}
