import ChatCore
import Hummingbird
import NIOCore

/// The JSON error body, `{"error":{"code":…,"message":…}}`, with `Retry-After` for rate limits.
enum ErrorResponse {
    static func response(for error: ChatError) -> Response {
        let json = json(error)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter = error.retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(
            status: HTTPResponse.Status(code: error.code.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
    }

    static func json(_ error: ChatError) -> String {
        ChatJSON.string(Body(error: .init(code: error.code.rawValue, message: error.message)))
    }

    private struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }
        var error: Detail
    }
}
