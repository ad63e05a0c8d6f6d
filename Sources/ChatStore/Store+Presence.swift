import ChatCore
import GRDB

/// What the realtime gateway reads and writes: a user's memberships for the hub's index, who may see whose
/// presence, and `last_seen` times.
extension Store {
    /// The conversations `user` is a member of, and the head cursor of the same snapshot: every membership change
    /// after `head` reaches the hub as a live event.
    public func memberships(of user: UserID) async throws -> (conversations: [ConversationID], head: EventCursor) {
        try await read { db in
            let conversations = try ConversationID.fetchAll(
                db.cachedStatement(sql: "SELECT conversation_id FROM members WHERE user_id = ?"), arguments: [user])
            return (conversations, try Self.head(db))
        }
    }

    /// Of `users`, those whose presence `viewer` may see — they share a conversation with `viewer` and have not
    /// blocked them — with their stored `last_seen` time (nil if never seen). A user always sees themself.
    public func presenceVisible(_ users: [UserID], viewer: UserID) async throws -> [(UserID, Millis?)] {
        guard !users.isEmpty else { return [] }
        return try await read { db in
            var visible: [(UserID, Millis?)] = []
            let statement = try db.cachedStatement(
                sql: """
                    SELECT u.last_seen_at FROM users u
                    WHERE u.id = ?2 AND (
                        u.id = ?1 OR (
                            EXISTS (
                                SELECT 1 FROM members a JOIN members b ON b.conversation_id = a.conversation_id
                                WHERE a.user_id = ?1 AND b.user_id = ?2)
                            AND NOT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?2 AND blocked_id = ?1)))
                    """)
            for user in Set(users).sorted() {
                if let row = try Row.fetchOne(statement, arguments: [viewer, user]) {
                    visible.append((user, row[0]))
                }
            }
            return visible
        }
    }

    /// Frees the SQLite page caches and closes idle readers (they reopen on demand), after a load spike.
    public func releaseMemory() {
        pool.releaseMemoryEventually()
    }

    /// Stores the times users' last device disconnected, in one transaction.
    public func saveLastSeen(_ times: [UserID: Millis]) async throws {
        guard !times.isEmpty else { return }
        try await write { db, _ in
            let statement = try db.cachedStatement(
                sql: "UPDATE users SET last_seen_at = MAX(COALESCE(last_seen_at, 0), ?) WHERE id = ?")
            for (user, time) in times {
                try statement.execute(arguments: [time, user])
            }
        }
    }
}
