import ChatCore
import Foundation
import Hummingbird
import NIOCore

extension Request {
    /// Reads a JSON body of at most `limit` bytes into `T`. Another media type gets 415, oversized bodies 413,
    /// malformed JSON, invalid UTF-8 and wrong types 400 — each as a `ChatError` that says what was wrong.
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
        let mediaType = headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces)
        guard mediaType?.lowercased() == "application/json" else {
            throw ChatError(
                .unsupportedMediaType,
                "the body must be JSON sent as Content-Type: application/json (got \(mediaType.map { "'\($0)'" } ?? "none"))")
        }
        guard !ChatJSON.hasFractionalNumber(buffer.readableBytesView) else {
            throw ChatError.invalid(ChatJSON.integersOnly)
        }
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

