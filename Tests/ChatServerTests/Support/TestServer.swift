import ChatCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@testable import ChatConfiguration
@testable import ChatServer

/// A configuration for tests: a fresh data folder, port 0, cheap bcrypt, generous limits.
func testConfig(_ adjust: (inout ChatConfig) -> Void = { _ in }) -> ChatConfig {
    var config = ChatConfig()
    config.server.port = 0
    config.metrics.port = 0
    config.storage.dataDirectory = temporaryDirectory().path
    config.auth.bcryptCost = 4
    config.auth.jwtSecret = testSecret
    config.limits.authRequestsPerMinute = 100_000
    config.limits.messagesPerMinute = 100_000
    adjust(&config)
    return config
}

let testSecret = "test-secret-that-is-long-enough-0123456789"

/// The repository's root folder (for the shipped config and the built `chatd`).
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("chatd-test-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `body` against a real chatd on a loopback port, with a real HTTP client.
/// The data folder is removed afterwards unless `keepData` (a test that restarts or restores it).
func withServer<T>(
    _ config: ChatConfig = testConfig(), configFile: String? = nil, keepData: Bool = false,
    _ body: @Sendable (API) async throws -> T
) async throws -> T {
    var logger = Logger(label: "chatd-test")
    logger.logLevel = .warning
    let app = try await buildApplication(config: config, logger: logger, configFile: configFile)
    defer { if !keepData { try? FileManager.default.removeItem(atPath: config.storage.dataDirectory) } }
    return try await app.test(.live) { client in try await body(API(client: client)) }
}

/// A JSON value read from a response, with subscripts for tests. Immutable after parsing.
struct JSON: @unchecked Sendable, CustomStringConvertible {
    let value: Any?

    init(_ value: Any?) { self.value = value }

    init(data: Data) {
        value = data.isEmpty ? nil : try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }

    subscript(key: String) -> JSON { JSON((value as? [String: Any])?[key]) }
    subscript(index: Int) -> JSON {
        guard let array = value as? [Any], array.indices.contains(index) else { return JSON(nil) }
        return JSON(array[index])
    }

    var int: Int64? { (value as? NSNumber).map { $0.int64Value } }
    var double: Double? { (value as? NSNumber).map { $0.doubleValue } }
    var string: String? { value as? String }
    var bool: Bool? { (value as? NSNumber).map { $0.boolValue } }
    var array: [JSON] { (value as? [Any])?.map(JSON.init) ?? [] }
    var isNull: Bool { value == nil || value is NSNull }
    var description: String {
        guard let value, JSONSerialization.isValidJSONObject(value),
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
        else { return String(describing: value) }
        return String(decoding: data, as: UTF8.self)
    }
}

struct Reply: Sendable {
    var status: Int
    var headers: HTTPFields
    var text: String
    var json: JSON { JSON(data: Data(text.utf8)) }
    var errorCode: String? { json["error"]["code"].string }

    subscript(key: String) -> JSON { json[key] }
}

struct TestUser: Sendable {
    var id: Int64
    var handle: String
    var token: String
    var refreshToken: String
}

/// The chatd API as a test client sees it.
struct API: Sendable {
    let client: any TestClientProtocol

    @discardableResult
    func call(
        _ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: [String: Any]? = nil,
        raw: String? = nil, rawBytes: [UInt8]? = nil, headers: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = headers
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
        } else if let raw {
            body = ByteBuffer(string: raw)
        } else if let rawBytes {
            body = ByteBuffer(bytes: rawBytes)
        }
        if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body)
        return Reply(status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
    }

    func register(_ handle: String, password: String = "correct horse") async throws -> TestUser {
        let reply = try await call(.post, "/v1/auth/register", json: ["handle": handle, "password": password])
        #expect(reply.status == 201, "register \(handle): \(reply.text)")
        return TestUser(
            id: reply["user"]["id"].int ?? -1, handle: handle, token: reply["access_token"].string ?? "",
            refreshToken: reply["refresh_token"].string ?? "")
    }

    func direct(_ user: TestUser, with peer: TestUser) async throws -> Int64 {
        let reply = try await call(.post, "/v1/conversations/direct", token: user.token, json: ["user_id": peer.id])
        #expect([200, 201].contains(reply.status), "\(reply.text)")
        return reply["conversation"]["id"].int ?? -1
    }

    func group(_ owner: TestUser, title: String, members: [TestUser]) async throws -> Int64 {
        let reply = try await call(
            .post, "/v1/conversations/group", token: owner.token,
            json: ["title": title, "member_ids": members.map(\.id)])
        #expect(reply.status == 201, "\(reply.text)")
        return reply["conversation"]["id"].int ?? -1
    }

    @discardableResult
    func send(_ user: TestUser, _ conversation: Int64, _ text: String, clientId: String = UUID().uuidString)
        async throws -> Reply
    {
        try await call(
            .post, "/v1/conversations/\(conversation)/messages", token: user.token,
            json: ["client_id": clientId, "text": text])
    }
}
