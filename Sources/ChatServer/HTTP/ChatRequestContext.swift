import ChatCore
import Foundation
import Hummingbird
import NIOCore

/// The request context of every chatd route: who is calling (once authenticated) and from where.
public struct ChatRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Set by `AuthMiddleware`; routes behind it read it from `AuthenticatedContext`.
    public var identity: Identity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// A backstop only: routes read bodies through `decodeJSON`, which applies `limits.max_body_bytes`.
    public var maxUploadSize: Int { 16 << 20 }
    public var requestDecoder: JSONDecoder { ChatJSON.decoder() }
    public var responseEncoder: JSONEncoder { ChatJSON.encoder() }

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
            throw ChatError.invalid(describe(error, whole: "the body"))
        } catch let error as ChatError {
            throw error
        } catch {
            throw ChatError.invalid("the body is not valid JSON")
        }
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
