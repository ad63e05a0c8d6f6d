import ChatCore
import GRDB

/// The event log on SQLite: sync pages, the head cursor, retention. The `events` table's rowid is the cursor.
public struct SQLiteEventLog: EventLogRepository {
    let database: StoreDatabase
}

extension SQLiteEventLog {
    /// The cursor of the newest event (0 when the log is empty).
    public func headCursor() async throws -> EventCursor {
        try await database.read { db in try Self.head(db) }
    }

    /// The events `user` may see after `cursor`: those of conversations they are a member of (since they joined),
    /// and those addressed to them alone. Removal from a conversation ends its events for that user, unsynced ones
    /// included; the removed user gets their own `member.removed`.
    public func sync(user: UserID, after cursor: EventCursor, limit: Int) async throws -> SyncPage {
        try await database.read { db in
            let head = try Self.head(db)
            let prunedThrough = try Self.prunedThrough(db)
            if cursor < prunedThrough || cursor > head {
                return .resetRequired(head: head, oldestAvailable: prunedThrough)
            }
            // Cached: preparing this statement costs more than running it, and every resuming socket runs it.
            let rows = try Row.fetchAll(
                db.cachedStatement(
                sql: """
                    SELECT e.id, e.type, e.conversation_id, e.audience_user_id, e.created_at, e.data, \(Message.columns)
                    FROM (
                        SELECT e.id FROM events e
                        JOIN members mb ON mb.conversation_id = e.conversation_id AND mb.user_id = ?1
                        WHERE e.id > ?2 AND e.id > mb.since_cursor AND e.audience_user_id IS NULL
                        UNION ALL
                        SELECT id FROM events WHERE audience_user_id = ?1 AND id > ?2
                        ORDER BY 1 LIMIT ?3
                    ) page
                    JOIN events e ON e.id = page.id
                    LEFT JOIN messages m ON m.id = e.message_id
                    ORDER BY e.id
                    """), arguments: [user, cursor, limit + 1])
            var events = rows.map(Self.event(row:))
            let hasMore = events.count > limit
            if hasMore { events.removeLast() }
            // On the last page the cursor moves to the head (read in this same snapshot), so a user whose
            // conversations are quiet still advances past other users' events and never falls behind retention.
            return .events(events, cursor: hasMore ? events.last!.cursor : max(head, cursor), hasMore: hasMore)
        }
    }

    /// Deletes events older than the retention period, 10,000 per transaction so other writes keep flowing.
    /// Returns how many were deleted.
    @discardableResult
    public func pruneEvents(olderThan cutoff: Millis) async throws -> Int {
        try await pruneEvents(olderThan: cutoff, batch: 10_000)
    }

    /// The same, at most `batch` per transaction.
    @discardableResult
    public func pruneEvents(olderThan cutoff: Millis, batch: Int) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await database.write { context in
                let db = context.db
                // Events are appended in time order, so the old ones are a prefix of the rowid order: no index on
                // created_at is needed (nor paid for on every write).
                let oldest = try Row.fetchAll(
                    db, sql: "SELECT id, created_at FROM events ORDER BY id LIMIT ?", arguments: [batch])
                guard let lastOld = oldest.prefix(while: { row in (row[1] as Millis) < cutoff }).last else { return 0 }
                let last: EventCursor = lastOld[0]
                try db.execute(sql: "DELETE FROM events WHERE id <= ?", arguments: [last])
                let count = db.changesCount
                try db.execute(
                    sql: """
                        INSERT INTO meta (key, value) VALUES ('events_pruned_through', ?)
                        ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)
                        """, arguments: [last])
                return count
            }
            total += deleted
            if deleted < batch { return total }
        }
    }

    /// The cursor of the newest event: the event log's own column (a rowid lookup), or, when every event has been
    /// pruned, where pruning stopped.
    static func head(_ db: Database) throws -> EventCursor {
        try EventCursor.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT MAX(COALESCE((SELECT MAX(id) FROM events), 0),
                               COALESCE((SELECT value FROM meta WHERE key = 'events_pruned_through'), 0))
                    """)) ?? 0
    }

    static func prunedThrough(_ db: Database) throws -> EventCursor {
        try EventCursor.fetchOne(db.cachedStatement(sql: "SELECT value FROM meta WHERE key = 'events_pruned_through'")) ?? 0
    }

    /// An event row (joined with its message, if any). Message events read their data from the message row,
    /// so a deleted message is never served again through its old events.
    static func event(row: Row) -> Event {
        let type = EventType(storageCode: row[1]) ?? .conversationUpdated
        let messageId: MessageID? = row[6]
        let data: String
        if messageId != nil {
            data = MessageData.json(Message(row: row, offset: 6))
        } else {
            data = row[5] ?? "{}"
        }
        return Event(
            cursor: row[0], type: type, conversationId: row[2], audienceUserId: row[3], at: row[4], data: data)
    }
}
