import ChatCore
import GRDB

/// Notifications on SQLite: the record of what the notify jobs told each member (`SQLitePush.fanOut` writes it).
public struct SQLiteNotifications: NotificationRepository {
    let database: StoreDatabase
    /// Records notifications in a write (the notify job's fan-out); one per message and user, so a second run
    /// records nothing new.
    static func insert(_ notifications: [Notification], _ db: Database) throws {
        let insert = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO notifications (user_id, conversation_id, message_id, title, body, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """)
        let now = Clock.nowMillis()
        for notification in notifications {
            try insert.execute(arguments: [
                notification.userId, notification.conversationId, notification.messageId, notification.title,
                notification.body, now,
            ])
        }
    }

    public func notifications(for user: UserID, limit: Int) async throws -> [Notification] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT user_id, conversation_id, message_id, title, body FROM notifications
                    WHERE user_id = ? ORDER BY id DESC LIMIT ?
                    """, arguments: [user, limit]
            ).map { Notification(userId: $0[0], conversationId: $0[1], messageId: $0[2], title: $0[3], body: $0[4]) }
        }
    }

    public func prune(before: Millis) async throws -> Int {
        try await database.write { context in
            try context.db.execute(sql: "DELETE FROM notifications WHERE created_at < ?", arguments: [before])
            return context.db.changesCount
        }
    }
}
