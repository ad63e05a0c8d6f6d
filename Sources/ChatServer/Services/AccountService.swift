import ChatCore
import Logging

/// Accounts and sign-in: registration, passwords, refresh tokens, one-time codes, profiles and blocks, with their
/// validation, for every way in (the app, the app's own backend through `/v1/server`).
struct AccountService: Sendable {
    let store: any AccountRepository
    let tokens: TokenIssuer
    let passwords: PasswordHasher
    let codes: OneTimeCodes
    let revocations: SessionRevocations
    let logger: Logger

    // MARK: Signing in

    /// A new user with a handle and a password, signed in.
    func register(handle: String, password: String, displayName: String?) async throws -> TokenResponse {
        _ = try Validate.handle(handle)
        _ = try Validate.password(password)
        let user = try await create(handle: handle, displayName: displayName, password: password)
        return try await signIn(user)
    }

    /// A new user made by the app's backend; the password is optional (the app may sign them in with tokens).
    func create(handle rawHandle: String, displayName: String?, password: String?) async throws -> UserProfile {
        let handle = try Validate.handle(rawHandle)
        let name = try Validate.displayName(displayName ?? handle)
        let hash = try await password.asyncMap { try await passwords.hash(try Validate.password($0)) }
        return try await store.createUser(handle: handle, displayName: name, passwordHash: hash)
    }

    /// Any byte sequence that is not the password fails, in the same time whether or not the handle exists.
    func login(handle: String, password: String) async throws -> TokenResponse {
        let credentials = try await store.credentials(handle: handle)
        guard let user = credentials?.0, try await isPassword(password, of: credentials?.1) else {
            throw ChatError(.unauthorized, "wrong handle or password")
        }
        return try await signIn(try await store.profile(id: user))
    }

    /// Whether `presented` is the password whose bcrypt hash is `hash`, in the same time whether or not there is a
    /// hash. One that could never have been stored is wrong without a comparison.
    private func isPassword(_ presented: String, of hash: String?) async throws -> Bool {
        guard Validate.couldBeStoredPassword(presented), let hash else {
            try await passwords.verifyAgainstNothing(presented)
            return false
        }
        return try await passwords.verify(presented, hash: hash)
    }

    /// A new password for a signed-in user who proves the current one; every other session of theirs ends (their
    /// sockets close), this one stays signed in.
    func changePassword(_ identity: Identity, current: String, new: String) async throws {
        let newPassword = try Validate.password(new)
        guard try await isPassword(current, of: try await store.passwordHash(user: identity.userId)) else {
            throw ChatError(.unauthorized, "the current password is wrong")
        }
        let ended = try await store.changePassword(
            user: identity.userId, to: try await passwords.hash(newPassword), keeping: identity.sessionId)
        for session in ended {
            revocations.revoked(user: identity.userId, session: session, reason: "password changed")
        }
    }

    /// Spends a refresh token for new tokens of the same session. A spent token revokes its whole session.
    func refresh(_ refreshToken: String) async throws -> TokenResponse {
        let successor = tokens.newRefreshToken()
        let outcome = try await store.rotateRefreshToken(
            TokenIssuer.hash(refreshToken), successorHash: successor.hash, expiresAt: tokens.refreshExpiry())
        switch outcome {
        case .rotated(let user, let session):
            return TokenResponse(
                user: try await store.profile(id: user),
                accessToken: try await tokens.accessToken(user: user, session: session),
                refreshToken: successor.token, expiresIn: tokens.accessSeconds)
        case .reused(let user, let session):
            logger.warning("refresh token reuse: session revoked")
            revocations.revoked(user: user, session: session, reason: "refresh token reuse")
            throw ChatError(.unauthorized, "this refresh token was already used; the session has been revoked")
        case .expired:
            throw ChatError(.unauthorized, "the refresh token has expired; sign in again")
        case .revoked:
            throw ChatError(.unauthorized, "this session has ended; sign in again")
        case .unknown:
            throw ChatError(.unauthorized, "unknown refresh token")
        }
    }

    /// Ends the caller's session: its refresh token and every access token of it stop working.
    func logout(_ identity: Identity) async throws {
        guard let session = identity.sessionId else {
            throw ChatError.invalid("tokens minted by your backend have no chatd session to end")
        }
        try await store.revokeSession(session, reason: "logout")
        revocations.revoked(user: identity.userId, session: session, reason: "logout")
    }

    /// Sends a sign-in code; returns the normalized destination.
    func requestCode(channel: OTPChannel, destination raw: String) async throws -> String {
        let destination = try Validate.otpDestination(raw, channel: channel)
        try await codes.request(channel: channel, destination: destination)
        return destination
    }

    func verifyCode(channel: OTPChannel, destination raw: String, code: String) async throws -> TokenResponse {
        let destination = try Validate.otpDestination(raw, channel: channel)
        return try await signIn(try await codes.verify(destination: destination, code: code))
    }

    /// Starts a login session for `user` and returns its first tokens.
    func signIn(_ user: UserProfile) async throws -> TokenResponse {
        guard try await !store.isDisabled(user.id) else {
            throw ChatError.forbidden("this account is disabled; its operator can enable it again")
        }
        let refresh = tokens.newRefreshToken()
        let session = try await store.startSession(
            user: user.id, refreshTokenHash: refresh.hash, expiresAt: tokens.refreshExpiry())
        return TokenResponse(
            user: user, accessToken: try await tokens.accessToken(user: user.id, session: session),
            refreshToken: refresh.token, expiresIn: tokens.accessSeconds)
    }

    /// New tokens for an existing user, for the app's backend.
    // MARK: Administration (chatctl)

    /// Disables an account: no sign-in and no token accepted from now on, every session revoked and every socket
    /// of the user closed (4401).
    func disable(_ user: UserID) async throws -> [SessionID] {
        let ended = try await store.setDisabled(true, user: user)
        revocations.revoked(user: user, session: nil, reason: "account disabled")
        logger.notice("account disabled", metadata: ["user": "\(user)", "sessions_ended": "\(ended.count)"])
        return ended
    }

    func enable(_ user: UserID) async throws {
        _ = try await store.setDisabled(false, user: user)
        logger.notice("account enabled", metadata: ["user": "\(user)"])
    }

    /// Sets a user's password for them; every session ends and every socket closes (whoever held the old one is
    /// out).
    func setPassword(_ user: UserID, to password: String) async throws -> [SessionID] {
        let hash = try await passwords.hash(try Validate.password(password))
        let ended = try await store.changePassword(user: user, to: hash, keeping: nil)
        revocations.revoked(user: user, session: nil, reason: "password changed")
        logger.notice("password set by an operator", metadata: ["user": "\(user)", "sessions_ended": "\(ended.count)"])
        return ended
    }

    /// Signs a user out everywhere: every session revoked (refresh tokens stop working), every socket closed.
    func kick(_ user: UserID) async throws -> [SessionID] {
        let ended = try await store.revokeAllSessions(of: user, reason: "signed out by an operator")
        revocations.revoked(user: user, session: nil, reason: "signed out by an operator")
        return ended
    }

    /// Deletes an account for good (see `AccountRepository.deleteAccount`); its sockets close at once.
    func delete(_ user: UserID, eraseMessages: Bool) async throws -> AccountDeletion {
        let deletion = try await store.deleteAccount(user, eraseMessages: eraseMessages)
        revocations.revoked(user: user, session: nil, reason: "account deleted")
        logger.notice(
            "account deleted",
            metadata: [
                "user": "\(user)", "sessions_ended": "\(deletion.endedSessions)", "groups_left": "\(deletion.leftGroups)",
                "messages_erased": "\(deletion.erasedMessages)",
            ])
        return deletion
    }

    func setRole(_ role: ServerRole, user: UserID) async throws {
        try await store.setRole(role, user: user)
        logger.notice("server role set", metadata: ["user": "\(user)", "role": "\(role.rawValue)"])
    }

    func mintTokens(for user: UserID) async throws -> TokenResponse {
        try await signIn(try await store.profile(id: user))
    }

    // MARK: Profiles and blocks

    func profile(_ user: UserID) async throws -> UserProfile {
        try await store.profile(id: user)
    }

    func profile(handle: String) async throws -> UserProfile {
        try await store.profile(handle: handle)
    }

    func rename(_ user: UserID, to displayName: String) async throws -> UserProfile {
        try await store.updateDisplayName(user: user, to: try Validate.displayName(displayName))
    }

    func block(_ target: UserID, by user: UserID) async throws {
        guard user != target else { throw ChatError.invalid("you cannot block yourself") }
        try await store.block(user: user, target: target)
    }

    func unblock(_ target: UserID, by user: UserID) async throws {
        try await store.unblock(user: user, target: target)
    }

    func blocked(by user: UserID) async throws -> [UserProfile] {
        try await store.blockedUsers(of: user)
    }

    // MARK: Presence

    /// Of `users`, those whose presence `viewer` may see: they share a conversation and have not blocked them.
    func presenceVisible(_ users: [UserID], to viewer: UserID) async throws -> [PresenceVisibility] {
        try await store.presenceVisible(users, viewer: viewer)
    }

    func saveLastSeen(_ times: [UserID: Millis]) async throws {
        try await store.saveLastSeen(times)
    }
}

extension Optional {
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
