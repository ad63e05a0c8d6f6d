import ChatCore

/// Turns a bearer token into an `Identity`: chatd's own access token (whose session must still be active), or,
/// when configured, a token minted by the app's backend (whose user is created on first sight).
struct Authenticator: Sendable {
    let tokens: TokenIssuer
    let external: ExternalTokenVerifier?
    let store: any AccountRepository

    func identify(bearer token: String) async throws -> Identity {
        let (alg, issuer) = JWTHeaderPeek.peek(token)
        if let external, issuer == external.issuer {
            let subject = try await external.verify(token, alg: alg)
            let user = try await store.userForExternalSubject(
                subject.subject, handle: subject.handle, displayName: subject.displayName)
            // chatd's own tokens stop with their session; the app's stop here.
            guard try await !store.isDisabled(user.id) else {
                throw ChatError(.unauthorized, "this account is disabled")
            }
            return Identity(userId: user.id, sessionId: nil, expiresAt: subject.expiresAt)
        }
        guard alg == "HS256" else { throw ChatError(.unauthorized, "the access token is not valid") }
        let identity = try await tokens.verify(token)
        guard let session = identity.sessionId, try await store.isSessionActive(session, user: identity.userId) else {
            throw ChatError(.unauthorized, "this session has ended; sign in again")
        }
        return identity
    }
}
