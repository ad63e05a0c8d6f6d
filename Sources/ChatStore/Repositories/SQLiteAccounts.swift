import ChatCore
import GRDB

/// Accounts on SQLite: users by each way of signing in, profiles, blocks, last-seen times.
public struct SQLiteAccounts: AccountRepository {
    let database: StoreDatabase
}

extension SQLiteAccounts {
    /// Creates a user with a handle (and a bcrypt hash when registered with a password).
    public func createUser(handle: String, displayName: String, passwordHash: String?) async throws -> UserProfile {
        try await database.write { context in
            let db = context.db
            guard try !Self.isTaken(db, handle: handle) else {
                throw ChatError(.handleTaken, "handle '\(handle)' is already taken")
            }
            return try Self.insertUser(
                db, handle: handle, displayName: displayName, identity: ("password_hash", passwordHash))
        }
    }

    /// The user for a handle with its password hash, for login. Nil when unknown or without a password.
    public func credentials(handle: String) async throws -> (UserID, String)? {
        try await database.read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT id, password_hash FROM users WHERE handle = ? AND password_hash IS NOT NULL",
                    arguments: [handle])
            else { return nil }
            return (row[0], row[1])
        }
    }

    /// A user's password hash; nil when they have none (codes or the app's tokens only).
    public func passwordHash(user: UserID) async throws -> String? {
        try await database.read { db in
            try String.fetchOne(db, sql: "SELECT password_hash FROM users WHERE id = ?", arguments: [user])
        }
    }

    /// The user who signs in with an app's own token: found by issuer and subject, created on first sight.
    /// A wanted handle is used when valid and free; otherwise the user has none.
    public func userForExternalSubject(_ subject: String, handle: String?, displayName: String) async throws
        -> UserProfile
    {
        let find = { @Sendable (db: Database) throws -> UserProfile? in
            try UserProfile.fetch(db, where: "external_subject = ?", [subject])
        }
        // Every request with such a token comes here: read first, write only on first sight.
        if let existing = try await database.read(find) { return existing }
        return try await database.write { context in
            let db = context.db
            if let existing = try find(db) { return existing }
            let wanted = handle.flatMap { try? Validate.handle($0) }
            let free = try wanted.flatMap { try Self.isTaken(db, handle: $0) ? nil : $0 }
            return try Self.insertUser(
                db, handle: free, displayName: displayName, identity: ("external_subject", subject))
        }
    }

    /// The user who owns a verified phone number or e-mail address, created on first sign-in.
    public func userForVerifiedDestination(_ destination: String, channel: OTPChannel) async throws -> UserProfile {
        let column = channel == .sms ? "phone" : "email"
        return try await database.write { context in
            let db = context.db
            if let existing = try UserProfile.fetch(db, where: "\(column) = ?", [destination]) { return existing }
            let displayName = channel == .email ? String(destination.prefix { $0 != "@" }.prefix(64)) : "User"
            return try Self.insertUser(db, handle: nil, displayName: displayName, identity: (column, destination))
        }
    }

    public func profile(id: UserID) async throws -> UserProfile {
        try await database.read { db in
            guard let user = try UserProfile.fetch(db, where: "id = ?", [id]) else {
                throw ChatError.notFound("user \(id)")
            }
            return user
        }
    }

    public func profile(handle: String) async throws -> UserProfile {
        try await database.read { db in
            guard let user = try UserProfile.fetch(db, where: "handle = ?", [handle]) else {
                throw ChatError.notFound("user '\(handle)'")
            }
            return user
        }
    }

    public func updateDisplayName(user: UserID, to displayName: String) async throws -> UserProfile {
        try await database.write { context in
            let db = context.db
            try db.execute(sql: "UPDATE users SET display_name = ? WHERE id = ?", arguments: [displayName, user])
            guard db.changesCount == 1, let profile = try UserProfile.fetch(db, where: "id = ?", [user]) else {
                throw ChatError.notFound("user \(user)")
            }
            return profile
        }
    }

    /// Blocks `target` for `user`: the target can no longer open a direct conversation with the user or message them
    /// in an existing one. Blocking twice is not an error.
    public func block(user: UserID, target: UserID) async throws {
        guard user != target else { throw ChatError.invalid("you cannot block yourself") }
        try await database.write { context in
            let db = context.db
            guard try db.activeUserExists(target) else { throw ChatError.notFound("user \(target)") }
            try db.execute(
                sql: "INSERT OR IGNORE INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)",
                arguments: [user, target, Clock.nowMillis()])
        }
    }

    public func unblock(user: UserID, target: UserID) async throws {
        try await database.write { context in
            let db = context.db
            guard try db.userExists(target) else { throw ChatError.notFound("user \(target)") }
            try db.execute(
                sql: "DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?", arguments: [user, target])
        }
    }

    /// The users `user` has blocked, most recent first.
    public func blockedUsers(of user: UserID) async throws -> [UserProfile] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(UserProfile.columns) FROM blocks b JOIN users u ON u.id = b.blocked_id
                    WHERE b.blocker_id = ? ORDER BY b.created_at DESC, u.id DESC
                    """, arguments: [user]
            ).map { UserProfile(row: $0) }
        }
    }

    // MARK: Presence

    /// Of `users`, those whose presence `viewer` may see — they share a conversation with `viewer` and have not
    /// blocked them — with their stored `last_seen` time (nil if never seen). A user always sees themself.
    public func presenceVisible(_ users: [UserID], viewer: UserID) async throws -> [PresenceVisibility] {
        guard !users.isEmpty else { return [] }
        return try await database.read { db in
            var visible: [PresenceVisibility] = []
            let statement = try db.cachedStatement(
                sql: """
                    SELECT u.last_seen_at FROM users u
                    WHERE u.id = ?2 AND u.deleted_at IS NULL AND (
                        u.id = ?1 OR (
                            EXISTS (
                                SELECT 1 FROM members a JOIN members b ON b.conversation_id = a.conversation_id
                                WHERE a.user_id = ?1 AND b.user_id = ?2)
                            AND NOT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?2 AND blocked_id = ?1)))
                    """)
            for user in Set(users).sorted() {
                if let row = try Row.fetchOne(statement, arguments: [viewer, user]) {
                    visible.append(PresenceVisibility(userId: user, lastSeen: row[0]))
                }
            }
            return visible
        }
    }

    /// Stores the times users' last device disconnected, in one transaction.
    public func saveLastSeen(_ times: [UserID: Millis]) async throws {
        guard !times.isEmpty else { return }
        try await database.write { context in
            let db = context.db
            let statement = try db.cachedStatement(
                sql: """
                    UPDATE users SET last_seen_at = MAX(COALESCE(last_seen_at, 0), ?) WHERE id = ? AND deleted_at IS NULL
                    """)
            for (user, time) in times {
                try statement.execute(arguments: [time, user])
            }
        }
    }

    // MARK: Building blocks

    private static func isTaken(_ db: Database, handle: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM users WHERE handle = ?)", arguments: [handle]) ?? false
    }

    /// Inserts a user known by `identity` (a password hash, an external subject, a phone number or an e-mail).
    private static func insertUser(
        _ db: Database, handle: String?, displayName: String, identity: (column: String, value: String?)
    ) throws -> UserProfile {
        let now = Clock.nowMillis()
        try db.execute(
            sql: "INSERT INTO users (handle, display_name, \(identity.column), created_at) VALUES (?, ?, ?, ?)",
            arguments: [handle, displayName, identity.value, now])
        return UserProfile(
            id: db.lastInsertedRowID, handle: handle, displayName: displayName, createdAt: now, lastSeenAt: nil)
    }
}
