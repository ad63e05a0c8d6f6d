import ChatAdmin
import ChatCore
import Foundation

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
        try await call("GET", path, as: type)
    }

    func post<T: Decodable>(_ path: String, json: [String: Any]? = nil, as type: T.Type) async throws -> T {
        try await call("POST", path, json: json, as: type)
    }

    func put<T: Decodable>(_ path: String, json: [String: Any], as type: T.Type) async throws -> T {
        try await call("PUT", path, json: json, as: type)
    }

    private func call<T: Decodable>(_ method: String, _ path: String, json: [String: Any]? = nil, as type: T.Type)
        async throws -> T
    {
        let response: UnixHTTP.Response
        do {
            response = try UnixHTTP(socket: socket).exchange(
                method: method, path: path, body: try json.map { try JSONSerialization.data(withJSONObject: $0) },
                contentType: json == nil ? nil : "application/json")
        } catch UnixHTTP.Failure.unreachable(let reason), UnixHTTP.Failure.broken(let reason) {
            throw Unreachable(socket: socket, reason: reason)
        }
        let body = response.body
        let code = response.status
        guard (200..<300).contains(code) else {
            if let error = try? ChatJSON.decoder().decode(AdminErrorBody.self, from: body) {
                throw Refused(status: code, code: error.error.code, message: error.error.message)
            }
            throw Refused(status: code, code: "http_\(code)", message: String(decoding: body, as: UTF8.self))
        }
        return try ChatJSON.decoder().decode(T.self, from: body)
    }
}
