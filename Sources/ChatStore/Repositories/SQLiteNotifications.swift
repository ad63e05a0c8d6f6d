import ChatCore
import GRDB

/// Notifications on SQLite: what the notify job reads and what it records.
public struct SQLiteNotifications: NotificationRepository {
    let database: StoreDatabase
    /// How much of a text a notification shows.
    static let bodyCharacters = 120

    public func draft(message: MessageID) async throws -> NotificationDraft? {
        try await database.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT m.body, m.sender_id, m.conversation_id, c.kind, c.title, u.display_name, m.attachments
                        FROM messages m JOIN conversations c ON c.id = m.conversation_id
                        JOIN users u ON u.id = m.sender_id
                        WHERE m.id = ? AND m.deleted_at IS NULL
                        """, arguments: [message])
            else { return nil }
            let text: String = row[0]
            let sender: UserID = row[1]
            let conversation: ConversationID = row[2]
            let kind: String = row[3]
            let senderName: String = row[5]
            let title = kind == "direct" ? senderName : (row[4] as String?) ?? senderName
            let recipients = try UserID.fetchAll(
                db,
                sql: """
                    SELECT user_id FROM members WHERE conversation_id = ? AND user_id <> ? AND NOT muted
                    ORDER BY user_id
                    """, arguments: [conversation, sender])
            var body = text.count > Self.bodyCharacters ? String(text.prefix(Self.bodyCharacters)) + "…" : text
            if text.isEmpty, let attachments = row[6] as String? {
                // A message of attachments only: say what it carries.
                body = attachments.contains("\"kind\":\"image\"") ? "sent a photo"
                    : attachments.contains("\"kind\":\"video\"") ? "sent a video" : "sent a file"
            }
            if kind == "group" { body = "\(senderName): \(body)" }
            return NotificationDraft(recipients: recipients, title: title, body: body)
        }
    }

    public func record(_ notifications: [Notification], completing lease: JobLease) async throws -> Int {
        try await database.write { context in
            let db = context.db
            let now = Clock.nowMillis()
            var added = 0
            let insert = try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO notifications (user_id, conversation_id, message_id, title, body, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """)
            for notification in notifications {
                try insert.execute(arguments: [
                    notification.userId, notification.conversationId, notification.messageId, notification.title,
                    notification.body, now,
                ])
                added += db.changesCount
            }
            _ = try SQLiteJobs.complete(db, lease)
            return added
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
