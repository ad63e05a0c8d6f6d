import ChatCore
import Foundation
import GRDB

// Decoding of domain values from rows. Column lists live next to the decoders so a query and its decoder agree.

extension UserProfile {
    static let columns = "u.id, u.handle, u.display_name, u.created_at, u.last_seen_at"

    init(row: Row, offset: Int = 0) {
        self.init(
            id: row[offset], handle: row[offset + 1], displayName: row[offset + 2], createdAt: row[offset + 3],
            lastSeenAt: row[offset + 4])
    }

    /// The one user matching `condition` (on table alias `u`), if any.
    static func fetch(_ db: Database, where condition: String, _ arguments: StatementArguments) throws -> UserProfile? {
        try Row.fetchOne(db, sql: "SELECT \(columns) FROM users u WHERE \(condition)", arguments: arguments)
            .map { UserProfile(row: $0) }
    }
}

extension Message {
    static let columns =
        "m.id, m.conversation_id, m.seq, m.sender_id, m.client_id, m.body, m.reply_to_seq, m.created_at, m.edited_at, m.deleted_at, m.attachments"
    static let columnCount = 11

    init(row: Row, offset: Int = 0) {
        let attachments: String? = row[offset + 10]
        self.init(
            id: row[offset], conversationId: row[offset + 1], seq: row[offset + 2], senderId: row[offset + 3],
            clientId: row[offset + 4], text: row[offset + 5], replyToSeq: row[offset + 6], createdAt: row[offset + 7],
            editedAt: row[offset + 8], deletedAt: row[offset + 9],
            attachments: attachments.flatMap { try? ChatJSON.decoder().decode([Media].self, from: Data($0.utf8)) })
    }
}

/// The caller's membership row, as every authorization check reads it.
struct Membership {
    var role: MemberRole
    var lastReadSeq: Seq
    var lastDeliveredSeq: Seq

    /// The membership of `userId` in `conversationId`, or `not_found`: a non-member cannot tell a conversation it is
    /// not in from one that does not exist.
    static func require(_ db: Database, conversation conversationId: ConversationID, user userId: UserID) throws
        -> Membership
    {
        guard let membership = try find(db, conversation: conversationId, user: userId) else {
            throw ChatError.notFound("conversation \(conversationId)")
        }
        return membership
    }

    static func find(_ db: Database, conversation conversationId: ConversationID, user userId: UserID) throws
        -> Membership?
    {
        let statement = try db.cachedStatement(
            sql: "SELECT role, last_read_seq, last_delivered_seq FROM members WHERE conversation_id = ? AND user_id = ?")
        guard let row = try Row.fetchOne(statement, arguments: [conversationId, userId]) else { return nil }
        return Membership(
            role: MemberRole(rawValue: row[0]) ?? .member, lastReadSeq: row[1], lastDeliveredSeq: row[2])
    }
}

extension Database {
    /// Whether either user has blocked the other.
    func isBlocked(between a: UserID, and b: UserID) throws -> Bool {
        let statement = try cachedStatement(
            sql: """
                SELECT EXISTS(SELECT 1 FROM blocks WHERE (blocker_id = ? AND blocked_id = ?)
                                                      OR (blocker_id = ? AND blocked_id = ?))
                """)
        return try Bool.fetchOne(statement, arguments: [a, b, b, a]) ?? false
    }

    func userExists(_ id: UserID) throws -> Bool {
        try Bool.fetchOne(self, sql: "SELECT EXISTS(SELECT 1 FROM users WHERE id = ?)", arguments: [id]) ?? false
    }

    /// A user others may still reach: one an operator has not deleted.
    func activeUserExists(_ id: UserID) throws -> Bool {
        try Bool.fetchOne(
            self, sql: "SELECT EXISTS(SELECT 1 FROM users WHERE id = ? AND deleted_at IS NULL)", arguments: [id]) ?? false
    }
}
