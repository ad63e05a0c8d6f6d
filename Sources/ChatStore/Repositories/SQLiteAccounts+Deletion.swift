import ChatCore
import GRDB

/// The operator's account changes that reach past the account: a server-wide role, and deleting an account.
extension SQLiteAccounts {
    /// What a deleted account's messages show as their sender.
    static let deletedName = "Deleted user"

    public func setRole(_ role: ServerRole, user: UserID) async throws {
        try await database.write { context in
            let db = context.db
            guard try db.userExists(user) else { throw ChatError.notFound("user \(user)") }
            guard try !Self.isDeleted(db, user) else { throw ChatError(.conflict, "user \(user) was deleted") }
            try db.execute(sql: "UPDATE users SET role = ? WHERE id = ?", arguments: [role.rawValue, user])
        }
    }

    public func deleteAccount(_ user: UserID, eraseMessages: Bool) async throws -> AccountDeletion {
        try await database.write { context in
            let db = context.db
            guard try db.userExists(user) else { throw ChatError.notFound("user \(user)") }
            guard try !Self.isDeleted(db, user) else { throw ChatError(.conflict, "user \(user) is deleted already") }
            let now = Clock.nowMillis()
            let sessions = try Self.revokeAll(db, user: user, reason: "account deleted")
            let groups = try Row.fetchAll(
                db,
                sql: """
                    SELECT m.conversation_id, m.role FROM members m JOIN conversations c ON c.id = m.conversation_id
                    WHERE m.user_id = ? AND c.kind = 'group' ORDER BY m.conversation_id
                    """, arguments: [user])
            for group in groups {
                try SQLiteConversations.remove(
                    context, user, role: MemberRole(rawValue: group[1]) ?? .member, from: group[0], by: user, at: now)
            }
            var erased = 0
            if eraseMessages {
                let sent = try Row.fetchAll(
                    db,
                    sql: "SELECT conversation_id, seq FROM messages WHERE sender_id = ? AND deleted_at IS NULL ORDER BY id",
                    arguments: [user])
                for message in sent {
                    _ = try SQLiteMessages.tombstone(
                        context, try SQLiteMessages.requireMessage(db, conversation: message[0], seq: message[1]))
                }
                erased = sent.count
            }
            try db.execute(sql: "DELETE FROM blocks WHERE blocker_id = ?1 OR blocked_id = ?1", arguments: [user])
            // The external subject stays: a token the app's backend still issues for this person maps to this
            // account, which stays disabled, rather than making a new one. A handle, phone or email is free again.
            try db.execute(
                sql: """
                    UPDATE users SET handle = NULL, display_name = ?, password_hash = NULL, phone = NULL, email = NULL,
                        role = 'member', last_seen_at = NULL, disabled_at = COALESCE(disabled_at, ?), deleted_at = ?
                    WHERE id = ?
                    """, arguments: [Self.deletedName, now, now, user])
            return AccountDeletion(endedSessions: sessions.count, leftGroups: groups.count, erasedMessages: erased)
        }
    }

    static func isDeleted(_ db: Database, _ user: UserID) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT deleted_at IS NOT NULL FROM users WHERE id = ?", arguments: [user]) ?? false
    }
}
