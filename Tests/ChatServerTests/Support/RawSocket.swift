#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import ChatRealtime
import Foundation

/// A TCP client on the bare socket API, for peers a well-behaved library cannot play: it sends any bytes, reads
/// with a timeout, and tells a server's close from silence.
class TCPClient: @unchecked Sendable {
    // @unchecked: used by one test task at a time.
    let fd: Int32
    private var buffer: [UInt8] = []

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Connects to 127.0.0.1. `receiveBuffer` sets SO_RCVBUF before connecting (the kernel doubles it); reads give
    /// up after `readTimeout` seconds.
    init(port: Int, receiveBuffer: Int32? = nil, readTimeout: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: readTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw Failure(description: "connect() failed")
        }
    }

    deinit { close(fd) }

    /// Sends every byte; false when the server has closed the connection meanwhile.
    @discardableResult
    func write(_ bytes: [UInt8]) throws -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0, errno == EPIPE || errno == ECONNRESET { return false }
            guard written > 0 else { throw Failure(description: "send() failed (errno \(errno))") }
            offset += written
        }
        return true
    }

    @discardableResult
    func write(_ text: String) throws -> Bool {
        try write(Array(text.utf8))
    }

    /// Exactly `count` bytes; nil when the server closed the connection first.
    func read(_ count: Int) throws -> [UInt8]? {
        while buffer.count < count {
            guard try fill() else { return nil }
        }
        let bytes = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return bytes
    }

    /// Everything until the server closes the connection (a read timeout is a failure: the server did not close).
    func readToClose() throws -> [UInt8] {
        while try fill() {}
        defer { buffer = [] }
        return buffer
    }

    /// `readToClose` off the Swift task threads (see `offThread`).
    func closedAfter() async throws -> String {
        try await offThread { String(decoding: try self.readToClose(), as: UTF8.self) }
    }

    /// Runs blocking reads on a thread of their own: they must not hold one of the few threads that run Swift tasks
    /// (the server under test needs them).
    func offThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Reads what is there; false at the end of the stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if received == 0 { return false }
        if received < 0 {
            if errno == ECONNRESET { return false }
            throw Failure(description: "recv() failed or timed out (errno \(errno))")
        }
        buffer += chunk[0..<received]
        return true
    }
}

/// A WebSocket client written against the bare socket API, for peers a well-behaved library cannot play: one
/// that never reads (with a tiny receive buffer), never answers pings or never says hello.
final class RawSocket: TCPClient, @unchecked Sendable {
    struct Frame: @unchecked Sendable {
        var opcode: UInt8
        var payload: [UInt8]
        var text: String { String(decoding: payload, as: UTF8.self) }
        var json: JSON { JSON(data: Data(payload)) }
        /// The close code of a close frame.
        var closeCode: UInt16? {
            guard opcode == 0x8, payload.count >= 2 else { return nil }
            return UInt16(payload[0]) << 8 | UInt16(payload[1])
        }
        /// The close frame's reason.
        var closeReason: String { String(decoding: payload.dropFirst(2), as: UTF8.self) }
    }

    /// Connects and upgrades; `early` bytes (a first frame) go in the same write as the upgrade request, as an
    /// eager client sends them.
    init(port: Int, receiveBuffer: Int32? = nil, readTimeout: Int = 10, early: [UInt8] = []) throws {
        try super.init(port: port, receiveBuffer: receiveBuffer, readTimeout: readTimeout)
        try write(
            Array(
                ("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8) + early)
        let head = try readHead()
        guard head.hasPrefix("HTTP/1.1 101") else { throw Failure(description: "upgrade refused: \(head)") }
    }

    /// Sends a masked text frame (the mask is zero: clients must mask, any key will do).
    func send(text: String) throws {
        try send(opcode: 0x1, payload: Array(text.utf8))
    }

    func send(_ object: [String: Any]) throws {
        try send(text: String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self))
    }

    func send(opcode: UInt8, payload: [UInt8]) throws {
        try write(Self.frame(opcode, payload))
    }

    /// One client frame as bytes: `fin`, the reserved bits, the opcode, a zero mask (or none) and the payload.
    static func frame(
        _ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, masked: Bool = true
    ) -> [UInt8] {
        var bytes = ClientFrameEncoding.frame(opcode: opcode, payload: payload)
        if !fin { bytes[0] &= 0x7F }
        bytes[0] |= rsv << 4
        if !masked {
            // Drop the mask bit and the four key bytes that follow the length.
            bytes[1] &= 0x7F
            let lengthBytes = [126: 2, 127: 8][Int(bytes[1])] ?? 0
            bytes.removeSubrange((2 + lengthBytes)..<(6 + lengthBytes))
        }
        return bytes
    }

    /// The next frame from the server; nil when the server closed the TCP connection.
    func readFrame() throws -> Frame? {
        guard let header = try read(2) else { return nil }
        var length = Int(header[1] & 0x7F)
        if length == 126 {
            guard let bytes = try read(2) else { return nil }
            length = Int(bytes[0]) << 8 | Int(bytes[1])
        } else if length == 127 {
            guard let bytes = try read(8) else { return nil }
            length = bytes.reduce(0) { $0 << 8 | Int($1) }
        }
        guard let payload = try read(length) else { return nil }
        return Frame(opcode: header[0] & 0x0F, payload: payload)
    }

    /// Reads frames until the server's close frame and returns its code and reason (nil if the TCP connection
    /// ended first).
    func readUntilClose() throws -> (closeCode: UInt16?, reason: String, frames: [Frame]) {
        var frames: [Frame] = []
        while let frame = try readFrame() {
            if frame.opcode == 0x8 { return (frame.closeCode, frame.closeReason, frames) }
            frames.append(frame)
        }
        return (nil, "", frames)
    }

    /// `readUntilClose` off the Swift task threads.
    func closed() async throws -> (closeCode: UInt16?, reason: String, frames: [Frame]) {
        try await offThread { try self.readUntilClose() }
    }

    /// Frames until one of JSON `type` (included), off the Swift task threads; pongs are listed as "pong".
    func frames(through type: String) async throws -> [String] {
        try await offThread {
            var types: [String] = []
            while let frame = try self.readFrame() {
                types.append(frame.opcode == 0xA ? "pong" : frame.json["type"].string ?? "?")
                if types.last == type { break }
            }
            return types
        }
    }

    private func readHead() throws -> String {
        var head: [UInt8] = []
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            guard let byte = try read(1) else { throw Failure(description: "closed during the upgrade") }
            head += byte
        }
        return String(decoding: head, as: UTF8.self)
    }
}
