import Foundation
import Testing

@testable import ChatConfiguration
@testable import ChatServer

/// What scanners, fuzzers and slow clients send at the HTTP listener: each gets its status and a closed socket, or
/// is closed when its deadline passes.
@Suite struct HostileHTTPTests {
    /// Short deadlines, so a test waits a second or two for the server to act.
    static func quick() -> ChatConfig {
        testConfig {
        $0.http.idleTimeoutSeconds = 1
        $0.http.requestHeadTimeoutSeconds = 1
        $0.http.requestBodyTimeoutSeconds = 1
        $0.http.requestBodyMinBytesPerSecond = 1_000_000
        }
    }

    /// The status line of a response, or "" when the server closed without one.
    static func status(_ response: String) -> String {
        response.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
    }

    static func sendAndReadToClose(port: Int, _ bytes: [UInt8]) async throws -> String {
        let client = try TCPClient(port: port)
        try client.write(bytes)
        return try await client.closedAfter()
    }

    static let malformed: [(name: String, request: [UInt8], status: String)] = [
        ("300 KB Authorization header",
         Array("GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(String(repeating: "a", count: 300_000))\r\n\r\n".utf8),
         "HTTP/1.1 431 Request Header Fields Too Large"),
        ("2,000 headers",
         Array(("GET /v1/me HTTP/1.1\r\nHost: x\r\n" + (0..<2000).map { "X-H\($0): v\r\n" }.joined() + "\r\n").utf8),
         "HTTP/1.1 431 Request Header Fields Too Large"),
        ("bare CR in the request line", Array("GET /v1/me\rX HTTP/1.1\r\nHost: x\r\n\r\n".utf8), "HTTP/1.1 400 Bad Request"),
        ("NUL inside a header", Array("GET /v1/me HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n".utf8), "HTTP/1.1 400 Bad Request"),
        ("not HTTP at all", Array("\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\u{00}\u{01}\u{fc}\u{03}\u{03}\r\n\r\n".utf8), "HTTP/1.1 400 Bad Request"),
        ("unknown version", Array("GET /v1/me HTTP/9.9\r\nHost: x\r\n\r\n".utf8), "HTTP/1.1 400 Bad Request"),
        ("space in a header name", Array("GET /v1/me HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n".utf8), "HTTP/1.1 400 Bad Request"),
        ("two Content-Lengths", Array("POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}".utf8), "HTTP/1.1 400 Bad Request"),
        ("a negative Content-Length", Array("POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".utf8), "HTTP/1.1 400 Bad Request"),
        ("broken chunked encoding", Array("POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8), "HTTP/1.1 400 Bad Request"),
    ]

    @Test(arguments: malformed.indices)
    func malformedRequestsAreAnsweredAndClosed(index: Int) async throws {
        let (name, request, expected) = Self.malformed[index]
        try await withServer { api in
            let response = try await Self.sendAndReadToClose(port: api.port, request)
            #expect(Self.status(response) == expected, "\(name): \(response.prefix(200))")
            #expect(response.contains("Connection: close"), "\(name)")
            #expect(response.contains(#""error":{"code":"#), "\(name): a JSON error body")
        }
    }

    @Test func aMalformedSecondRequestOnAKeptAliveConnectionIsAnsweredToo() async throws {
        try await withServer { api in
            let client = try TCPClient(port: api.port)
            try client.write("GET /v1/me HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.offThread { try client.readResponse() }.head.hasPrefix("HTTP/1.1 401"))
            try client.write("GET /v1/me HTTP/1.1\r\nHost: x\r\nX: \u{0}\r\n\r\n")
            let response = try await client.closedAfter()
            #expect(Self.status(response) == "HTTP/1.1 400 Bad Request", "\(response)")
        }
    }

    @Test func aMalformedRequestPipelinedBehindAnotherComesAfterItsAnswer() async throws {
        try await withServer { api in
            let client = try TCPClient(port: api.port)
            try client.write("GET /v1/me HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/me HTTP/1.1\r\nHost: x\r\nX: \u{0}\r\n\r\n")
            let responses = try await client.closedAfter()
            let statuses = responses.components(separatedBy: "\r\n").filter { $0.hasPrefix("HTTP/1.1 ") }
            // The first request is answered first; the malformed one behind it ends the connection (with a 400
            // when it is not the connection's first exchange).
            #expect(statuses.first?.hasPrefix("HTTP/1.1 401") == true, "\(responses)")
            #expect(statuses.dropFirst().allSatisfy { $0 == "HTTP/1.1 400 Bad Request" }, "\(responses)")
        }
    }

    @Test func aConnectionThatSendsNothingIsClosedAfterTheIdleTimeout() async throws {
        try await withServer(Self.quick()) { api in
            let started = ContinuousClock.now
            let response = try await TCPClient(port: api.port).closedAfter()
            #expect(response == "", "closed without a word")
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test func halfARequestHeadIsAnswered408() async throws {
        try await withServer(Self.quick()) { api in
            let client = try TCPClient(port: api.port)
            try client.write("GET /v1/me HTT")
            let response = try await client.closedAfter()
            #expect(Self.status(response) == "HTTP/1.1 408 Request Timeout", "\(response)")
            #expect(response.contains(#""code":"request_timeout""#))
        }
    }

    @Test func aDribbledHeadIsCutOffAtItsDeadlineNotItsIdleTime() async throws {
        try await withServer(Self.quick()) { api in
            let client = try TCPClient(port: api.port)
            let started = ContinuousClock.now
            // One byte every 200 ms never lets the connection sit idle, yet the head is never done.
            let dribble = Task.detached {
                for byte in "GET /v1/me HTTP/1.1\r\nHost: example\r\nX-Slow: ".utf8 {
                    guard (try? client.write([byte])) == true else { return }
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            let response = try await client.closedAfter()
            dribble.cancel()
            #expect(Self.status(response) == "HTTP/1.1 408 Request Timeout", "\(response)")
            #expect(ContinuousClock.now - started < .seconds(4))
        }
    }

    @Test func aBodyThatDoesNotArriveIsAnswered408() async throws {
        try await withServer(Self.quick()) { api in
            let client = try TCPClient(port: api.port)
            try client.write("POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"handle\":")
            let response = try await client.closedAfter()
            #expect(Self.status(response) == "HTTP/1.1 408 Request Timeout", "\(response)")
        }
    }

    @Test func aBodyRefusedBeforeItArrivesEndsTheConnection() async throws {
        try await withServer { api in
            let client = try TCPClient(port: api.port)
            // A body announced at 10 MB, of which 70 KB is sent: answered 413 at the limit, then closed rather than
            // read to its end at the client's pace.
            try client.write(
                "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
                    + String(repeating: " ", count: 70_000))
            let started = ContinuousClock.now
            let response = try await client.closedAfter()
            #expect(Self.status(response) == "HTTP/1.1 413 Payload Too Large", "\(response.prefix(200))")
            #expect(response.contains("Connection: close") || response.contains("connection: close"))
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test func aKeptAliveConnectionServesRequestsThenClosesWhenIdle() async throws {
        try await withServer(Self.quick()) { api in
            let client = try TCPClient(port: api.port)
            for _ in 0..<3 {
                try client.write("GET /v1/me HTTP/1.1\r\nHost: x\r\n\r\n")
                let (head, body) = try await client.offThread { try client.readResponse() }
                #expect(head.hasPrefix("HTTP/1.1 401"), "\(head)")
                #expect(body.contains("unauthorized"))
            }
            let rest = try await client.closedAfter()
            #expect(rest == "", "nothing more, then the idle close")
        }
    }

    @Test func aWebSocketKeepsItsOwnTimeAfterTheUpgrade() async throws {
        let config = testConfig {
            $0.http.idleTimeoutSeconds = 1
            $0.http.requestHeadTimeoutSeconds = 1
            $0.realtime.helloTimeoutSeconds = 3
        }
        try await withServer(config) { api in
            let started = ContinuousClock.now
            let socket = try RawSocket(port: api.port)
            let closed = try await socket.closed()
            #expect(closed.closeCode == 4408, "the session's hello timeout closes it, not the HTTP idle timeout")
            #expect(ContinuousClock.now - started >= .seconds(2))
        }
    }
}

extension TCPClient {
    /// One response with a Content-Length body: its head and its body. It blocks: call it through `offThread`.
    func readResponse() throws -> (head: String, body: String) {
        var head: [UInt8] = []
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            guard let byte = try read(1) else { throw Failure(description: "closed inside a response head") }
            head += byte
        }
        let text = String(decoding: head, as: UTF8.self)
        let length = text.split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        let body = try read(length) ?? []
        return (text, String(decoding: body, as: UTF8.self))
    }
}
