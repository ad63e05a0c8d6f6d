import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOSSL
import NIOWebSocket
import Synchronization
import Testing

struct SocketTimeout: Error, CustomStringConvertible {
    var waitingFor: String
    var description: String { "timed out waiting for \(waitingFor)" }
}

/// Frames received, in order, until the connection ends.
final class Inbox: Sendable {
    private let state = Mutex<(queue: [JSON], finished: Bool)>(([], false))
    /// The last frames read, for the message of a timeout.
    private let recent = Mutex<[String]>([])

    func push(_ frame: JSON) { state.withLock { $0.queue.append(frame) } }

    var recentlyRead: String { recent.withLock { $0.joined(separator: "\n") } }
    func finish() { state.withLock { $0.finished = true } }

    /// The first frame that matches, taken out of the inbox (the others stay, in order); `finished` once the
    /// connection ended and no frame matches.
    func take(where matches: (JSON) -> Bool) -> (frame: JSON?, finished: Bool) {
        state.withLock { state in
            guard let index = state.queue.firstIndex(where: matches) else { return (nil, state.finished) }
            let frame = state.queue.remove(at: index)
            recent.withLock { recent in
                recent.append(frame.description)
                if recent.count > 6 { recent.removeFirst() }
            }
            return (frame, false)
        }
    }

    var pending: Int { state.withLock { $0.queue.count } }
}

/// A real WebSocket client (hummingbird-websocket's) for tests: what the server sends lands in an inbox that
/// `next` reads in order, with a timeout.
final class Socket: Sendable {
    let inbox: Inbox
    private let writer: WebSocketOutboundWriter
    private let connection: Task<WebSocketCloseFrame?, any Error>

    private init(inbox: Inbox, writer: WebSocketOutboundWriter, connection: Task<WebSocketCloseFrame?, any Error>) {
        self.inbox = inbox
        self.writer = writer
        self.connection = connection
    }

    /// Connects to `/v1/ws` on loopback; with `tls`, over WSS to `localhost`.
    static func connect(port: Int, path: String = "/v1/ws", tls: TLSConfiguration? = nil) async throws -> Socket {
        let inbox = Inbox()
        let (writers, writerIn) = AsyncStream<WebSocketOutboundWriter>.makeStream()
        var logger = Logger(label: "test-socket")
        logger.logLevel = .critical
        let connection = Task {
            defer {
                inbox.finish()
                writerIn.finish()
            }
            return try await WebSocketClient.connect(
                url: tls == nil ? "ws://127.0.0.1:\(port)\(path)" : "wss://localhost:\(port)\(path)",
                configuration: .init(maxFrameSize: 1 << 20, closeTimeout: .seconds(2)), tlsConfiguration: tls,
                logger: logger
            ) { inbound, outbound, _ in
                writerIn.yield(outbound)
                for try await message in inbound.messages(maxSize: 1 << 22) {
                    if case .text(let text) = message { inbox.push(JSON(data: Data(text.utf8))) }
                }
            }
        }
        var iterator = writers.makeAsyncIterator()
        guard let writer = await iterator.next() else {
            _ = try await connection.value
            throw SocketTimeout(waitingFor: "the WebSocket upgrade")
        }
        return Socket(inbox: inbox, writer: writer, connection: connection)
    }

    /// Connects and says hello; returns the `welcome` frame.
    static func hello(port: Int, token: String, cursor: Int64? = nil, tls: TLSConfiguration? = nil) async throws
        -> (Socket, JSON)
    {
        let socket = try await connect(port: port, tls: tls)
        var hello: [String: Any] = ["type": "hello", "id": "hello", "token": token]
        if let cursor { hello["cursor"] = cursor }
        try await socket.send(hello)
        let welcome = try await socket.next()
        #expect(welcome["type"].string == "welcome", "\(welcome)")
        return (socket, welcome)
    }

    func send(_ frame: [String: Any]) async throws {
        let data = try JSONSerialization.data(withJSONObject: frame)
        try await writer.write(.text(String(decoding: data, as: UTF8.self)))
    }

    func send(text: String) async throws {
        try await writer.write(.text(text))
    }

    func send(frame: WebSocketFrame) async throws {
        try await writer.write(.custom(frame))
    }

    /// The next frame from the server.
    func next(timeout: Duration = .seconds(5), line: Int = #line) async throws -> JSON {
        try await first(where: { _ in true }, timeout: timeout, line: line)
    }

    /// The first frame of `type`; frames of other types stay in the inbox for later calls.
    func next(type: String, timeout: Duration = .seconds(5), line: Int = #line) async throws -> JSON {
        try await first(where: { $0["type"].string == type }, timeout: timeout, line: line)
    }

    /// The reply to the frame with `id`; other frames stay in the inbox.
    func reply(to id: String, timeout: Duration = .seconds(5), line: Int = #line) async throws -> JSON {
        try await first(where: { $0["type"].string == "reply" && $0["id"].string == id }, timeout: timeout, line: line)
    }

    func first(where matches: (JSON) -> Bool, timeout: Duration, line: Int) async throws -> JSON {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (frame, finished) = inbox.take(where: matches)
            if let frame { return frame }
            if finished {
                throw SocketTimeout(
                    waitingFor: "a frame at line \(line) (the connection closed); last read:\n\(inbox.recentlyRead)")
            }
            if ContinuousClock.now >= deadline {
                throw SocketTimeout(waitingFor: "a frame at line \(line); last read:\n\(inbox.recentlyRead)")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Sends a frame with `id` and returns its reply.
    func request(
        _ frame: [String: Any], id: String = UUID().uuidString, timeout: Duration = .seconds(5), line: Int = #line
    ) async throws -> JSON {
        var frame = frame
        frame["id"] = id
        try await send(frame)
        return try await reply(to: id, timeout: timeout, line: line)
    }

    /// Waits for the connection to end and returns the server's close frame (nil if there was none).
    func closed(timeout: Duration = .seconds(10)) async throws -> WebSocketCloseFrame? {
        try await withThrowingTaskGroup(of: WebSocketCloseFrame?.self) { group in
            group.addTask { try await self.connection.value }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw SocketTimeout(waitingFor: "the connection to close")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Closes from the client side (1000) and waits for the end.
    func close() async {
        try? await writer.close(.normalClosure, reason: "done")
        _ = try? await closed(timeout: .seconds(3))
    }

    /// Drops the connection without a close handshake, like a lost network.
    func drop() {
        connection.cancel()
    }
}
