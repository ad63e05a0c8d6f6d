import ChatConfiguration
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
