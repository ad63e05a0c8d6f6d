/// Who is calling, once their access token has been verified: the same for a REST request and a WebSocket session.
public struct Identity: Sendable, Equatable {
    public var userId: UserID
    /// The login session of chatd's own tokens; nil for tokens minted by the app's backend.
    public var sessionId: SessionID?
    /// When the access token expires; a socket asks for a fresh one then.
    public var expiresAt: Millis

    public init(userId: UserID, sessionId: SessionID?, expiresAt: Millis) {
        self.userId = userId
        self.sessionId = sessionId
        self.expiresAt = expiresAt
    }
}
