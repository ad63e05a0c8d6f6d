import ChatCore
import GRDB

/// Full-text search (SQLite FTS5) over the messages of the asker's conversations.
extension SQLiteMessages {
    /// Messages of `user`'s conversations (or of one of them) matching every word of `query`; the last word also
    /// matches as a prefix, so results come while typing. Best matches first.
    public func search(_ query: String, user: UserID, conversation: ConversationID?, limit: Int) async throws
        -> [SearchHit]
    {
        guard let match = Self.ftsQuery(query) else {
            throw ChatError.invalid("q must contain at least one word")
        }
        return try await database.read { db in
            var sql = """
                SELECT \(Message.columns), snippet(messages_fts, 0, '[', ']', '…', 12)
                FROM messages_fts
                JOIN messages m ON m.id = messages_fts.rowid
                JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?
                WHERE messages_fts MATCH ?
                """
            var arguments: StatementArguments = [user, match]
            if let conversation {
                sql += " AND m.conversation_id = ?"
                arguments += [conversation]
            }
            sql += " ORDER BY rank LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                SearchHit(message: Message(row: row), snippet: row[Message.columnCount])
            }
        }
    }

    /// The user's words as an FTS5 query of quoted single-token terms, so no input is read as FTS5 syntax and no
    /// term is a phrase (the index keeps no token positions). Words split where the tokenizer splits: at every
    /// character that is not a letter or a digit.
    static func ftsQuery(_ raw: String) -> String? {
        let words = raw.split(whereSeparator: { !($0.isLetter || $0.isNumber) })
            .prefix(16)
            .map { "\"" + $0 + "\"" }
        guard let last = words.last else { return nil }
        return (words.dropLast() + [last + "*"]).joined(separator: " ")
    }
}

/// Keeps `messages_fts` in step with message bodies. Each is one single-row statement, so FTS5 keeps its pending
/// terms in memory until the commit (see the migration for why there is no trigger).
enum SearchIndex {
    static func add(_ db: Database, id: MessageID, text: String) throws {
        try db.cachedStatement(sql: "INSERT INTO messages_fts (rowid, body) VALUES (?, ?)")
            .execute(arguments: [id, text])
    }

    /// External-content FTS5 forgets a row only when told its old text.
    static func remove(_ db: Database, id: MessageID, text: String?) throws {
        guard let text else { return }
        try db.cachedStatement(sql: "INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', ?, ?)")
            .execute(arguments: [id, text])
    }
}
