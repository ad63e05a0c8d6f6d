import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 exchange over a Unix domain socket (the admin socket) with blocking calls: connect, send the request
/// with `Connection: close`, read to the end. chatctl makes one or two requests and exits, so an event loop and a
/// connection pool would only cost it their start-up; `chatbench idle` times the same request with it.
public struct UnixHTTP: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var body: Data
    }

    /// Why the exchange failed: the socket could not be reached, or the answer was cut or malformed.
    public enum Failure: Error {
        case unreachable(String)
        case broken(String)
    }

    public let socket: String
    public var timeoutSeconds = 30

    public init(socket: String, timeoutSeconds: Int = 30) {
        self.socket = socket
        self.timeoutSeconds = timeoutSeconds
    }

    public func exchange(method: String, path: String, body: Data?, contentType: String?) throws -> Response {
        let descriptor = try connected()
        defer { close(descriptor) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: chatd\r\nConnection: close\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        head += "Content-Length: \(body?.count ?? 0)\r\n\r\n"
        var request = Data(head.utf8)
        if let body { request.append(body) }
        try send(request, on: descriptor)
        return try Self.parse(try receiveAll(descriptor))
    }

    private func connected() throws -> Int32 {
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure.unreachable("cannot create a socket") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socket.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(descriptor)
            throw Failure.unreachable("the path is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        // Before connecting: a daemon whose listen queue is full would otherwise hold the connect forever.
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let reason =
                errno == ENOENT
                ? "no such socket" : errno == EACCES ? "permission denied" : errno == ECONNREFUSED
                    ? "connection refused (a socket file left by a stopped chatd?)"
                    : errno == EAGAIN ? "no connection within \(timeoutSeconds) s" : "connect failed (errno \(errno))"
            close(descriptor)
            throw Failure.unreachable(reason)
        }
        return descriptor
    }

    private func send(_ data: Data, on descriptor: Int32) throws {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var sent = 0
            while sent < raw.count {
                let count = Glibc.send(descriptor, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { throw Failure.unreachable("the daemon closed the connection (errno \(errno))") }
                sent += count
            }
        }
    }

    private func receiveAll(_ descriptor: Int32) throws -> Data {
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress!, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            if count < 0 {
                throw Failure.broken(
                    errno == EAGAIN ? "no answer within \(timeoutSeconds) s" : "reading the answer failed (errno \(errno))")
            }
            if count == 0 { return received }
            received.append(contentsOf: buffer[0..<count])
        }
    }

    /// The status and body of a whole response (its body sized by Content-Length, chunked, or up to the end).
    static func parse(_ data: Data) throws -> Response {
        let bytes = [UInt8](data)
        guard let headEnd = bytes.firstRange(of: [13, 10, 13, 10]) else { throw Failure.broken("the answer was cut short") }
        let lines = String(decoding: bytes[..<headEnd.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw Failure.broken("not an HTTP answer")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[headEnd.upperBound...])
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            body = try dechunked(body)
        } else if let length = headers["content-length"].flatMap(Int.init) {
            guard length >= 0, body.count >= length else { throw Failure.broken("the answer was cut short") }
            body = Array(body.prefix(length))
        }
        return Response(status: status, body: Data(body))
    }

    static func dechunked(_ bytes: [UInt8]) throws -> [UInt8] {
        var body: [UInt8] = []
        var position = 0
        while true {
            guard let lineEnd = bytes[position...].firstRange(of: [13, 10]) else {
                throw Failure.broken("a chunk was cut short")
            }
            let sizeText = String(decoding: bytes[position..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16), size >= 0 else {
                throw Failure.broken("a chunk's size is not hexadecimal")
            }
            if size == 0 { return body }
            let start = lineEnd.upperBound
            guard size <= bytes.count - start - 2 else { throw Failure.broken("a chunk was cut short") }
            body.append(contentsOf: bytes[start..<(start + size)])
            position = start + size + 2
        }
    }
}
