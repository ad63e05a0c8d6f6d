import ChatCore
import GRDB

/// Messages on SQLite: send, history, edit, delete, reactions, receipts and search.
public struct SQLiteMessages: MessageRepository {
    let database: StoreDatabase
}

extension SQLiteMessages {
    /// Sends a message (already validated by the caller), answered by calling `completion` on the writer's queue once
    /// durable (or refused) instead of resuming a Task: the WebSocket gateway's hot path, which hands the answer
    /// straight to an event loop. The same `(sender, client_id)` always returns the original.
    public func sendMessage(
        sender: UserID, conversation: ConversationID, clientId: String, text: String, replyTo: Seq?,
        attachments: [Int64], completion: @escaping @Sendable (Result<SendResult, any Error>) -> Void
    ) {
        database.writer.submit({ context in
            let db = context.db
            if let original = try Self.message(db, sender: sender, clientId: clientId) {
                guard original.conversationId == conversation else {
                    throw ChatError(.conflict, "client_id '\(clientId)' was already used in another conversation")
                }
                let cursor = try EventCursor.fetchOne(
                    db, sql: "SELECT cursor FROM messages WHERE id = ?", arguments: [original.id])
                return SendResult(message: original, cursor: cursor, duplicate: true)
            }
            // Every check comes before the first change, so a refused send fails alone in its batch. One scalar
            // query answers them: the conversation's last seq, or -1 for a non-member, -2 for a block either way
            // in a direct conversation.
            let state = try db.cachedStatement(
                sql: """
                    SELECT CASE
                      WHEN NOT EXISTS (SELECT 1 FROM members WHERE conversation_id = c.id AND user_id = ?2) THEN -1
                      WHEN c.kind = 'direct' AND EXISTS (
                          SELECT 1 FROM members other WHERE other.conversation_id = c.id AND other.user_id <> ?2 AND (
                              EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?2 AND blocked_id = other.user_id)
                           OR EXISTS (SELECT 1 FROM blocks WHERE blocker_id = other.user_id AND blocked_id = ?2)))
                        THEN -2
                      ELSE c.last_seq END
                    FROM conversations c WHERE c.id = ?1
                    """)
            let lastSeq = try Seq.fetchOne(state, arguments: [conversation, sender]) ?? -1
            guard lastSeq != -1 else { throw ChatError.notFound("conversation \(conversation)") }
            guard lastSeq != -2 else { throw ChatError(.blocked, "you cannot message this user") }
            let seq = lastSeq + 1
            if let replyTo, replyTo >= seq {
                throw ChatError.invalid("reply_to \(replyTo) is not an earlier message of this conversation")
            }
            // Before the first change too: media that is not the sender's fails the send alone.
            let media = try SQLiteMedia.attach(db, media: attachments, sender: sender)
            let now = Clock.nowMillis()
            try db.cachedStatement(sql: "UPDATE conversations SET last_seq = ?, last_activity_at = ? WHERE id = ?")
                .execute(arguments: [seq, now, conversation])
            try db.cachedStatement(
                sql: """
                    INSERT INTO messages (conversation_id, seq, sender_id, client_id, body, reply_to_seq, created_at,
                        attachments)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [conversation, seq, sender, clientId, text, replyTo, now, media.map { ChatJSON.string($0) }])
            let id = db.lastInsertedRowID
            try SearchIndex.add(db, id: id, text: text)
            for (position, mediaId) in attachments.enumerated() {
                try db.cachedStatement(
                    sql: "INSERT INTO message_media (message_id, media_id, position) VALUES (?, ?, ?)"
                ).execute(arguments: [id, mediaId, position])
                try db.cachedStatement(sql: "UPDATE media SET unused_since = NULL WHERE id = ?").execute(arguments: [mediaId])
            }
            let message = Message(
                id: id, conversationId: conversation, seq: seq, senderId: sender, clientId: clientId,
                text: text, replyToSeq: replyTo, createdAt: now, editedAt: nil, deletedAt: nil, attachments: media)
            let event = try context.append(
                .messageCreated, conversationId: conversation, messageId: message.id, storedData: nil,
                wireData: MessageData.json(message), at: now)
            try db.cachedStatement(sql: "UPDATE messages SET cursor = ? WHERE id = ?")
                .execute(arguments: [event.cursor, id])
            try context.enqueue(.notify(message), at: now)
            // Sending reads everything before it: the sender's own message never counts as unread.
            try db.cachedStatement(
                sql: """
                    UPDATE members SET last_read_seq = ?, last_delivered_seq = MAX(last_delivered_seq, ?)
                    WHERE conversation_id = ? AND user_id = ?
                    """
            ).execute(arguments: [seq, seq, conversation, sender])
            return SendResult(message: message, cursor: event.cursor, duplicate: false)
        }, completion: completion)
    }

    /// A page of history. With `after`: the messages following that seq; with `before`: those preceding it;
    /// with neither: the latest. Tombstones of deleted messages are included so seqs stay gap-free.
    public func history(
        conversation: ConversationID, for user: UserID, before: Seq?, after: Seq?, limit: Int
    ) async throws -> HistoryPage {
        try await database.read { db in
            _ = try Membership.require(db, conversation: conversation, user: user)
            var conditions = ["m.conversation_id = ?"]
            var arguments: StatementArguments = [conversation]
            if let after {
                conditions.append("m.seq > ?")
                arguments += [after]
            }
            if let before {
                conditions.append("m.seq < ?")
                arguments += [before]
            }
            let ascending = after != nil
            let sql = """
                SELECT \(Message.columns) FROM messages m WHERE \(conditions.joined(separator: " AND "))
                ORDER BY m.seq \(ascending ? "ASC" : "DESC") LIMIT ?
                """
            arguments += [limit + 1]
            var messages = try Row.fetchAll(db, sql: sql, arguments: arguments).map { Message(row: $0) }
            let hasMore = messages.count > limit
            if hasMore { messages.removeLast() }
            if !ascending { messages.reverse() }
            try Self.attachReactions(db, to: &messages)
            return HistoryPage(messages: messages, hasMore: hasMore)
        }
    }

    /// Replaces the text of one's own message (already validated by the caller).
    public func editMessage(conversation: ConversationID, seq: Seq, text: String, editor: UserID) async throws
        -> Message
    {
        try await database.write { context in
            let db = context.db
            _ = try Membership.require(db, conversation: conversation, user: editor)
            var message = try Self.requireMessage(db, conversation: conversation, seq: seq)
            guard message.senderId == editor else { throw ChatError.forbidden("only the sender edits a message") }
            guard message.deletedAt == nil else { throw ChatError(.conflict, "message \(seq) was deleted") }
            let now = Clock.nowMillis()
            try db.execute(
                sql: "UPDATE messages SET body = ?, edited_at = ? WHERE id = ?", arguments: [text, now, message.id])
            try SearchIndex.replace(db, id: message.id, old: message.text, new: text)
            message.text = text
            message.editedAt = now
            // Message events carry no reactions, live or replayed (sync reads them from the row); reactions have
            // their own events. The caller's answer has them.
            try context.append(
                .messageEdited, conversationId: conversation, messageId: message.id, storedData: nil,
                wireData: MessageData.json(message), at: now)
            try Self.attachReactions(db, to: &message)
            return message
        }
    }

    /// Deletes a message, leaving a tombstone that keeps its seq. The sender, a group's admins and owner, or a
    /// server moderator (`chatctl user role`) who is a member may.
    /// Deleting a tombstone again changes nothing.
    public func deleteMessage(conversation: ConversationID, seq: Seq, actor: UserID) async throws -> Message {
        try await database.write { context in
            let db = context.db
            let role = try Membership.require(db, conversation: conversation, user: actor).role
            let message = try Self.requireMessage(db, conversation: conversation, seq: seq)
            let allowed = try message.senderId == actor || role.canManage || Self.isModerator(db, actor)
            guard allowed else {
                throw ChatError.forbidden("only the sender, an admin or a moderator deletes a message")
            }
            return try Self.tombstone(context, message)
        }
    }

    private static func isModerator(_ db: Database, _ user: UserID) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT role = 'moderator' FROM users WHERE id = ?", arguments: [user]) ?? false
    }

    public func moderateDelete(conversation: ConversationID, seq: Seq) async throws -> Message {
        try await database.write { context in
            try Self.tombstone(context, try Self.requireMessage(context.db, conversation: conversation, seq: seq))
        }
    }

    /// Makes a message a tombstone (text, attachments and reactions gone, seq kept) and appends `message.deleted`.
    static func tombstone(_ context: WriteContext, _ original: Message) throws -> Message {
        let db = context.db
        var message = original
        guard message.deletedAt == nil else { return message }
        let now = Clock.nowMillis()
        try db.execute(
            sql: "UPDATE messages SET body = NULL, attachments = NULL, deleted_at = ? WHERE id = ?",
            arguments: [now, message.id])
        try SearchIndex.replace(db, id: message.id, old: message.text, new: nil)
        try SQLiteMedia.messageDeleted(db, message: message.id, at: now)
        message.attachments = nil
        try db.execute(sql: "DELETE FROM reactions WHERE message_id = ?", arguments: [message.id])
        message.text = nil
        message.deletedAt = now
        message.reactions = []
        try context.append(
            .messageDeleted, conversationId: message.conversationId, messageId: message.id, storedData: nil,
            wireData: MessageData.json(message), at: now)
        return message
    }

    /// Adds (or with `add == false` removes) `user`'s reaction. Repeating either changes nothing.
    public func react(
        _ emoji: String, add: Bool, conversation: ConversationID, seq: Seq, user: UserID
    ) async throws -> Message {
        try await database.write { context in
            let db = context.db
            _ = try Membership.require(db, conversation: conversation, user: user)
            var message = try Self.requireMessage(db, conversation: conversation, seq: seq)
            guard message.deletedAt == nil else { throw ChatError(.conflict, "message \(seq) was deleted") }
            let now = Clock.nowMillis()
            if add {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO reactions (message_id, user_id, emoji, created_at) VALUES (?, ?, ?, ?)",
                    arguments: [message.id, user, emoji, now])
            } else {
                try db.execute(
                    sql: "DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND emoji = ?",
                    arguments: [message.id, user, emoji])
            }
            if db.changesCount > 0 {
                try context.append(
                    add ? .reactionAdded : .reactionRemoved, conversationId: conversation,
                    storedData: ChatJSON.string(ReactionData(messageId: message.id, seq: seq, userId: user, emoji: emoji)),
                    at: now)
            }
            try Self.attachReactions(db, to: &message)
            return message
        }
    }

    /// Moves `user`'s read (or delivered) position forward to `seq`; a position never moves back, and reading
    /// implies delivery. Returns the member's positions after the change.
    public func markReceipt(_ receipt: Receipt, upTo seq: Seq, conversation: ConversationID, user: UserID)
        async throws -> (lastReadSeq: Seq, lastDeliveredSeq: Seq)
    {
        try await database.write { context in
            let db = context.db
            let membership = try Membership.require(db, conversation: conversation, user: user)
            let lastSeq = try Seq.fetchOne(
                db, sql: "SELECT last_seq FROM conversations WHERE id = ?", arguments: [conversation]) ?? 0
            guard seq <= lastSeq else {
                throw ChatError.invalid("seq \(seq) is past the conversation's last message (\(lastSeq))")
            }
            let now = Clock.nowMillis()
            var read = membership.lastReadSeq
            var delivered = membership.lastDeliveredSeq
            if receipt == .read, seq > read {
                read = seq
                try context.append(
                    .receiptRead, conversationId: conversation,
                    storedData: ChatJSON.string(ReceiptData(userId: user, seq: seq)), at: now)
            }
            if max(seq, read) > delivered {
                delivered = max(seq, read)
                try context.append(
                    .receiptDelivered, conversationId: conversation,
                    storedData: ChatJSON.string(ReceiptData(userId: user, seq: delivered)), at: now)
            }
            if read != membership.lastReadSeq || delivered != membership.lastDeliveredSeq {
                try db.execute(
                    sql: """
                        UPDATE members SET last_read_seq = ?, last_delivered_seq = ?
                        WHERE conversation_id = ? AND user_id = ?
                        """, arguments: [read, delivered, conversation, user])
            }
            return (read, delivered)
        }
    }

    // MARK: Building blocks

    /// The message an earlier send with this `(sender, client_id)` stored. The common answer is "none", found
    /// with a scalar query; only a real retry loads the row.
    static func message(_ db: Database, sender: UserID, clientId: String) throws -> Message? {
        let statement = try db.cachedStatement(sql: "SELECT id FROM messages WHERE sender_id = ? AND client_id = ?")
        guard let id = try MessageID.fetchOne(statement, arguments: [sender, clientId]) else { return nil }
        return try Row.fetchOne(db, sql: "SELECT \(Message.columns) FROM messages m WHERE m.id = ?", arguments: [id])
            .map { Message(row: $0) }
    }

    static func requireMessage(_ db: Database, conversation: ConversationID, seq: Seq) throws -> Message {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT \(Message.columns) FROM messages m WHERE m.conversation_id = ? AND m.seq = ?",
                arguments: [conversation, seq])
        else { throw ChatError.notFound("message \(seq)") }
        return Message(row: row)
    }

    static func attachReactions(_ db: Database, to message: inout Message) throws {
        var messages = [message]
        try attachReactions(db, to: &messages)
        message = messages[0]
    }

    static func attachReactions(_ db: Database, to messages: inout [Message]) throws {
        guard !messages.isEmpty else { return }
        let ids = messages.map(\.id)
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT message_id, emoji, user_id FROM reactions WHERE message_id IN (\(databaseQuestionMarks(count: ids.count)))
                ORDER BY message_id, emoji, created_at, user_id
                """, arguments: StatementArguments(ids))
        guard !rows.isEmpty else { return }
        var byMessage: [MessageID: [ReactionSummary]] = [:]
        for row in rows {
            let id: MessageID = row[0]
            let emoji: String = row[1]
            let user: UserID = row[2]
            var list = byMessage[id, default: []]
            if let index = list.firstIndex(where: { $0.emoji == emoji }) {
                list[index].userIds.append(user)
            } else {
                list.append(ReactionSummary(emoji: emoji, userIds: [user]))
            }
            byMessage[id] = list
        }
        for index in messages.indices {
            messages[index].reactions = byMessage[messages[index].id] ?? []
        }
    }
}
