import AsyncHTTPClient
import ChatAdmin
import ChatCore
import Foundation
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// The admin API over the daemon's Unix socket.
struct AdminClient {
    let socket: String

    /// The daemon does not answer on its socket (not running, or another socket path).
    struct Unreachable: Error, CustomStringConvertible {
        var socket: String
        var reason: String
        var description: String {
            "cannot reach chatd on \(socket): \(reason)\n"
                + "hint: is chatd running (systemctl status chatd)? Does this user belong to the chatd group? "
                + "Give the socket with --socket or the daemon's config with --config."
        }
    }

    /// The daemon refused or failed the request; its JSON error.
    struct Refused: Error, CustomStringConvertible {
        var status: Int
        var code: String
        var message: String
        var description: String { "\(code): \(message)" }
    }

    func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        try await call(.GET, path, as: type)
    }

    func post<T: Decodable>(_ path: String, json: [String: Any]? = nil, as type: T.Type) async throws -> T {
        try await call(.POST, path, json: json, as: type)
    }

    func put<T: Decodable>(_ path: String, json: [String: Any], as type: T.Type) async throws -> T {
        try await call(.PUT, path, json: json, as: type)
    }

    /// Connects once with plain POSIX calls: a missing socket or a refused connection is known at once (the HTTP
    /// client's pool would keep retrying until its deadline).
    private func probe() throws {
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Unreachable(socket: path, reason: "cannot create a socket") }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Unreachable(socket: path, reason: "the path is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let reason = errno == ENOENT ? "no such socket" : errno == EACCES ? "permission denied" : errno == ECONNREFUSED
                ? "connection refused (a socket file left by a stopped chatd?)" : "connect failed (errno \(errno))"
            throw Unreachable(socket: path, reason: reason)
        }
    }

    private var path: String { socket }

    private func call<T: Decodable>(_ method: HTTPMethod, _ path: String, json: [String: Any]? = nil, as type: T.Type)
        async throws -> T
    {
        try probe()
        guard let url = URL(httpURLWithSocketPath: socket, uri: path) else {
            throw Unreachable(socket: socket, reason: "the path cannot be a socket address")
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        } catch {
            throw Unreachable(socket: socket, reason: "\(error)")
        }
        let body = Data(try await response.body.collect(upTo: 64 << 20).readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            if let error = try? ChatJSON.decoder().decode(AdminErrorBody.self, from: body) {
                throw Refused(status: Int(response.status.code), code: error.error.code, message: error.error.message)
            }
            throw Refused(status: Int(response.status.code), code: "http_\(response.status.code)", message: String(decoding: body, as: UTF8.self))
        }
        return try ChatJSON.decoder().decode(T.self, from: body)
    }
}
