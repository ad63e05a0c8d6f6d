import ChatCore

/// Who is making a request, once their access token has been verified.
public struct Identity: Sendable, Equatable {
    public var userId: UserID
    /// The login session of chatd's own tokens; nil for tokens minted by the app's backend.
    public var sessionId: SessionID?
    /// When the access token expires.
    public var expiresAt: Millis
}
