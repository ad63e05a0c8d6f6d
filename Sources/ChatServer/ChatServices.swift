import ChatCore
import ChatStore
import Hummingbird
import Logging

/// The shared services every route uses, built once by `buildApplication`.
struct ChatServices: Sendable {
    let config: ChatConfig
    let store: Store
    let tokens: TokenIssuer
    let passwords: PasswordHasher
    let codes: OneTimeCodes
    let authenticator: Authenticator
    let messages: MessageService
    let logger: Logger

    var maxBody: Int { config.limits.maxBodyBytes }

    /// Starts a login session for `user` and returns its first tokens.
    func signIn(_ user: UserProfile) async throws -> TokenResponse {
        let refresh = tokens.newRefreshToken()
        let session = try await store.startSession(
            user: user.id, refreshTokenHash: refresh.hash, expiresAt: tokens.refreshExpiry())
        return TokenResponse(
            user: user, accessToken: try await tokens.accessToken(user: user.id, session: session),
            refreshToken: refresh.token, expiresIn: tokens.accessSeconds)
    }
}

/// Tokens of a login session.
struct TokenResponse: ResponseEncodable {
    var user: UserProfile
    var accessToken: String
    var refreshToken: String
    var tokenType = "Bearer"
    /// Seconds until the access token expires.
    var expiresIn: Int
}

/// Query-string parameters, with the same clear 400 as bodies when they are malformed.
extension Request {
    func query<T: LosslessStringConvertible>(_ name: String, as type: T.Type) throws -> T? {
        guard let raw = uri.queryParameters.get(name) else { return nil }
        guard let value = T(raw) else {
            throw ChatError.invalid("query parameter '\(name)' is not valid: '\(raw)'")
        }
        return value
    }
}

/// A response with no body.
struct NoContent: ResponseGenerator {
    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: .noContent)
    }
}
