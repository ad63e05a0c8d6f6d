import ChatCore
import Foundation
import Hummingbird
import NIOCore

/// The request context of every chatd route: who is calling (once authenticated) and from where.
public struct ChatRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Set by `AuthMiddleware` on authenticated routes.
    public var identity: Identity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// A backstop only: routes read bodies through `decodeJSON`, which applies `limits.max_body_bytes`.
    public var maxUploadSize: Int { 16 << 20 }
    public var requestDecoder: JSONDecoder { ChatJSON.decoder() }
    public var responseEncoder: JSONEncoder { ChatJSON.encoder() }

    /// The authenticated caller; only reachable behind `AuthMiddleware`.
    func requireIdentity() throws -> Identity {
        guard let identity else { throw ChatError.unauthorized }
        return identity
    }

    /// The client's IP address, the key of per-IP limits.
    var clientIP: String {
        remoteAddress?.ipAddress ?? "unknown"
    }
}

extension Request {
    /// Reads a JSON body of at most `limit` bytes into `T`. Oversized bodies get 413, malformed JSON, invalid UTF-8
    /// and wrong types 400 — each as a `ChatError` that says what was wrong.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw ChatError(.payloadTooLarge, "the request body is \(length) bytes; the limit is \(limit)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw ChatError(.payloadTooLarge, "the request body is larger than \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { throw ChatError.invalid("a JSON body is required") }
        do {
            return try ChatJSON.decoder().decode(T.self, from: Data(buffer: buffer))
        } catch let error as DecodingError {
            throw ChatError.invalid(Self.describe(error))
        } catch let error as ChatError {
            throw error
        } catch {
            throw ChatError.invalid("the body is not valid JSON")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { key in
                key.intValue.map { "[\($0)]" } ?? snakeCase(key.stringValue)
            }
            return keys.isEmpty ? "the body" : "field '\(keys.joined(separator: "."))'"
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context))"
            return "field '\(snakeCase(key.stringValue))' is required\(parent)"
        case .typeMismatch(let type, let context):
            return "\(path(context)) must be \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context)) must be \(typeName(type)), not null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the body is not valid JSON (UTF-8)" : "\(path(context)) is invalid"
        @unknown default:
            return "the body is not valid"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is Bool.Type: "a boolean"
        case is Double.Type: "a number"
        default: String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }

    private static func snakeCase(_ key: String) -> String {
        var out = ""
        for character in key {
            if character.isUppercase {
                out += "_" + character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }
}

extension Parameters {
    /// A path parameter that must be a positive integer id; anything else is a 404 (no such thing), not a 500.
    func id(_ name: String, _ what: String) throws -> Int64 {
        guard let raw = get(name), let value = Int64(raw), value > 0 else {
            throw ChatError.notFound(what + " '\(get(name) ?? "")'")
        }
        return value
    }
}
