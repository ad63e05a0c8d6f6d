import Foundation
import ChatCore
import HTTPTypes
import Hummingbird

/// Requires `Authorization: Bearer <access token>` and puts the caller's identity in the context.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ChatRequestContext
    let authenticator: Authenticator
    /// Where a user counts as active today.
    let usage: UsageMeter?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw ChatError(.unauthorized, "an 'Authorization: Bearer <access token>' header is required")
        }
        let token = String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        var context = context
        let identity = try await authenticator.identify(bearer: token)
        usage?.userActive(identity.userId)
        context.identity = identity
        return try await next(request, context)
    }
}
