/// A login session that ended — or every session of a user — so that its open sockets close at once instead of
/// living on until their access token expires.
public struct SessionRevocation: Sendable, Equatable {
    public var user: UserID
    /// Nil: every session of the user, tokens minted by the app's backend included.
    public var session: SessionID?
    /// Why, in a few words, for the close frame: "logout", "refresh token reuse", "password changed".
    public var reason: String

    public init(user: UserID, session: SessionID?, reason: String) {
        self.user = user
        self.session = session
        self.reason = reason
    }

    /// Whether the revocation ends a socket signed in as `identity`.
    public func ends(_ identity: Identity) -> Bool {
        identity.userId == user && (session == nil || identity.sessionId == session)
    }
}

/// Receives ended sessions right after the store committed them. The realtime gateway implements it. It must not
/// block.
public protocol SessionRevocationPublisher: Sendable {
    func revoked(_ revocation: SessionRevocation)
}
