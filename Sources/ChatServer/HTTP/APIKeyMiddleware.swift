import ChatCore
import HTTPTypes
import Hummingbird

/// Requires the server API key of the app's own backend in `X-Api-Key`.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = ChatRequestContext
    let apiKey: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard !apiKey.isEmpty else {
            throw ChatError(.forbidden, "the server API is disabled; set auth.api_key to enable it")
        }
        guard let presented = request.headers[HTTPField.Name("X-Api-Key")!],
            constantTimeEqual(presented.utf8, apiKey.utf8)
        else {
            throw ChatError(.unauthorized, "a valid 'X-Api-Key' header is required")
        }
        return try await next(request, context)
    }
}
