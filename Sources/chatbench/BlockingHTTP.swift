import Foundation

/// HTTP/1.1 on a blocking socket: one request, then its response read to the end of its Content-Length body.
final class BlockingHTTP {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var noDelay: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw BenchError("connect() failed")
        }
    }

    deinit { close(fd) }

    /// Sends `request` and returns the response's status, its body read and dropped.
    func exchange(_ request: String) throws -> Int {
        try exchange(request, body: nil).status
    }

    /// Sends a request head and body; returns the response's status and body.
    func exchange(_ head: String, body: [UInt8]?) throws -> (status: Int, body: [UInt8]) {
        try write(Array(head.utf8))
        if let body { try write(body) }
        var headEnd: Int?
        while headEnd == nil {
            try fill()
            headEnd = buffer.indices.dropLast(3).first {
                buffer[$0] == 13 && buffer[$0 + 1] == 10 && buffer[$0 + 2] == 13 && buffer[$0 + 3] == 10
            }
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        buffer.removeFirst(headEnd! + 4)
        let length = head.split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        let body = try read(length)
        return (Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0, body)
    }

    /// A JSON request; the response's status and parsed body.
    func json(_ method: String, _ path: String, token: String?, _ object: [String: Any]?) throws -> (status: Int, json: [String: Any]) {
        let body = try object.map { try JSONSerialization.data(withJSONObject: $0) }.map { [UInt8]($0) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        let (status, reply) = try exchange(head + "\r\n", body: body)
        let parsed = (try? JSONSerialization.jsonObject(with: Data(reply))) as? [String: Any] ?? [:]
        return (status, parsed)
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw BenchError("send() failed") }
            offset += written
        }
    }

    /// Exactly `count` bytes.
    func read(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard received > 0 else { throw BenchError("the server closed the connection") }
        buffer += chunk[0..<received]
    }
}
