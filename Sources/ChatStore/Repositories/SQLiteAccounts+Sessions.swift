import ChatCore
import Foundation
import GRDB

/// Login sessions (refresh-token families) and one-time codes. Tokens and codes are stored only as hashes.
extension SQLiteAccounts {
    /// Starts a session for `user` with its first refresh token.
    public func startSession(user: UserID, refreshTokenHash: Data, expiresAt: Millis) async throws -> SessionID {
        try await database.write { context in
            let db = context.db
            let now = Clock.nowMillis()
            try db.execute(sql: "INSERT INTO sessions (user_id, created_at) VALUES (?, ?)", arguments: [user, now])
            let session = db.lastInsertedRowID
            try db.execute(
                sql: "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [refreshTokenHash, session, now, expiresAt])
            return session
        }
    }

    /// Spends a refresh token and issues its successor in the same session. The revocation on reuse commits even
    /// though the caller answers with an error, so it is an outcome here rather than a thrown error.
    public func rotateRefreshToken(_ presentedHash: Data, successorHash: Data, expiresAt: Millis) async throws
        -> RefreshOutcome
    {
        try await database.write { context in
            let db = context.db
            let now = Clock.nowMillis()
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT t.session_id, t.expires_at, t.used_at, s.user_id, s.revoked_at
                        FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = ?
                        """, arguments: [presentedHash])
            else { return .unknown }
            let session: SessionID = row[0]
            let tokenExpiresAt: Millis = row[1]
            let usedAt: Millis? = row[2]
            let user: UserID = row[3]
            let revokedAt: Millis? = row[4]
            if revokedAt != nil { return .revoked }
            if usedAt != nil {
                try Self.revoke(db, session: session, reason: "refresh token reuse", at: now)
                return .reused(user: user, session: session)
            }
            if tokenExpiresAt <= now { return .expired }
            try db.execute(
                sql: "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?", arguments: [now, presentedHash])
            try db.execute(
                sql: "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [successorHash, session, now, expiresAt])
            return .rotated(user: user, session: session)
        }
    }

    /// Ends a session: its refresh tokens stop working and its access tokens are refused from now on.
    public func revokeSession(_ session: SessionID, reason: String) async throws {
        try await database.write { context in
            let db = context.db
            try Self.revoke(db, session: session, reason: reason, at: Clock.nowMillis())
        }
    }

    /// Replaces `user`'s password hash and ends every other active session of theirs, in one transaction; returns
    /// the sessions it ended.
    public func changePassword(user: UserID, to hash: String, keeping: SessionID?) async throws -> [SessionID] {
        try await database.write { context in
            let db = context.db
            try db.execute(sql: "UPDATE users SET password_hash = ? WHERE id = ?", arguments: [hash, user])
            guard db.changesCount == 1 else { throw ChatError.notFound("user \(user)") }
            let sessions = try SessionID.fetchAll(
                db, sql: "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ?",
                arguments: [user, keeping])
            let now = Clock.nowMillis()
            for session in sessions { try Self.revoke(db, session: session, reason: "password changed", at: now) }
            return sessions
        }
    }

    /// Whether a session exists and has not been revoked; checked for every access token.
    public func isSessionActive(_ session: SessionID, user: UserID) async throws -> Bool {
        try await database.read { db in
            try Bool.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT s.revoked_at IS NULL AND u.disabled_at IS NULL
                        FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.user_id = ?
                        """),
                arguments: [session, user]) ?? false
        }
    }

    public func setDisabled(_ disabled: Bool, user: UserID) async throws -> [SessionID] {
        try await database.write { context in
            let db = context.db
            guard try db.userExists(user) else { throw ChatError.notFound("user \(user)") }
            if !disabled, try Self.isDeleted(db, user) {
                throw ChatError(.conflict, "user \(user) was deleted; a deleted account cannot be enabled")
            }
            try db.execute(
                sql: "UPDATE users SET disabled_at = ? WHERE id = ?", arguments: [disabled ? Clock.nowMillis() : nil, user])
            return disabled ? try Self.revokeAll(db, user: user, reason: "account disabled") : []
        }
    }

    public func isDisabled(_ user: UserID) async throws -> Bool {
        try await database.read { db in
            try Bool.fetchOne(db, sql: "SELECT disabled_at IS NOT NULL FROM users WHERE id = ?", arguments: [user]) ?? false
        }
    }

    public func revokeAllSessions(of user: UserID, reason: String) async throws -> [SessionID] {
        try await database.write { context in
            guard try context.db.userExists(user) else { throw ChatError.notFound("user \(user)") }
            return try Self.revokeAll(context.db, user: user, reason: reason)
        }
    }

    public func sessions(of user: UserID) async throws -> [SessionSummary] {
        try await database.read { db in
            guard try db.userExists(user) else { throw ChatError.notFound("user \(user)") }
            return try Row.fetchAll(
                db,
                sql: "SELECT id, created_at, revoked_at, revoked_reason FROM sessions WHERE user_id = ? ORDER BY id DESC",
                arguments: [user]
            ).map { SessionSummary(id: $0[0], createdAt: $0[1], revokedAt: $0[2], revokedReason: $0[3]) }
        }
    }

    public func listUsers(after: UserID, limit: Int) async throws -> [AccountSummary] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(UserProfile.columns), u.disabled_at,
                        (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.revoked_at IS NULL),
                        u.role, u.deleted_at
                    FROM users u WHERE u.id > ? ORDER BY u.id LIMIT ?
                    """, arguments: [after, limit]
            ).map {
                AccountSummary(
                    user: UserProfile(row: $0), disabledAt: $0[5], activeSessions: $0[6],
                    role: ServerRole(rawValue: $0[7]) ?? .member, deletedAt: $0[8])
            }
        }
    }

    static func revokeAll(_ db: Database, user: UserID, reason: String) throws -> [SessionID] {
        let active = try SessionID.fetchAll(
            db, sql: "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL", arguments: [user])
        for session in active { try revoke(db, session: session, reason: reason, at: Clock.nowMillis()) }
        return active
    }

    private static func revoke(_ db: Database, session: SessionID, reason: String, at now: Millis) throws {
        try db.execute(
            sql: "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL",
            arguments: [now, reason, session])
    }

    // MARK: One-time codes

    /// Stores a fresh code for a destination, replacing any earlier one (and its failed attempts).
    public func storeOneTimeCode(destination: String, channel: OTPChannel, codeHash: Data, expiresAt: Millis)
        async throws
    {
        try await database.write { context in
            let db = context.db
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO otp_codes (destination, channel, code_hash, created_at, expires_at, failed_attempts)
                    VALUES (?, ?, ?, ?, ?, 0)
                    """, arguments: [destination, channel.rawValue, codeHash, Clock.nowMillis(), expiresAt])
        }
    }

    /// Checks a code. A right code is spent; a wrong one counts, and the last allowed failure deletes the code,
    /// so a new one must be requested. Failures commit, hence an outcome rather than a thrown error.
    public func checkOneTimeCode(destination: String, codeHash: Data, maxAttempts: Int) async throws -> CodeCheck {
        try await database.write { context in
            let db = context.db
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT channel, code_hash, expires_at, failed_attempts FROM otp_codes WHERE destination = ?",
                    arguments: [destination])
            else { return .noLiveCode }
            let channel = OTPChannel(rawValue: row[0]) ?? .sms
            let storedHash: Data = row[1]
            let expiresAt: Millis = row[2]
            let failed: Int = row[3]
            if expiresAt <= Clock.nowMillis() || failed >= maxAttempts {
                try db.execute(sql: "DELETE FROM otp_codes WHERE destination = ?", arguments: [destination])
                return .noLiveCode
            }
            if constantTimeEqual(storedHash, codeHash) {
                try db.execute(sql: "DELETE FROM otp_codes WHERE destination = ?", arguments: [destination])
                return .accepted(channel)
            }
            if failed + 1 >= maxAttempts {
                try db.execute(sql: "DELETE FROM otp_codes WHERE destination = ?", arguments: [destination])
                return .wrong(attemptsLeft: 0)
            }
            try db.execute(
                sql: "UPDATE otp_codes SET failed_attempts = failed_attempts + 1 WHERE destination = ?",
                arguments: [destination])
            return .wrong(attemptsLeft: maxAttempts - failed - 1)
        }
    }
}
