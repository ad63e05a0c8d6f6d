import ChatCore
import GRDB

/// Full-text search (SQLite FTS5) over the messages of the asker's conversations.
extension SQLiteMessages {
    /// Messages of `user`'s conversations (or of one of them) matching every word of `query`; the last word also
    /// matches as a prefix, so results come while typing. Best matches first.
    public func search(_ query: String, user: UserID, conversation: ConversationID?, limit: Int) async throws
        -> [SearchHit]
    {
        try await database.read { db in
            guard let match = try Self.ftsQuery(query, db: db) else {
                throw ChatError.invalid("q must contain at least one word (letters, digits or emoji)")
            }
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

    /// The user's words as an FTS5 query of quoted single-token terms, every one required and the last also as a
    /// prefix (results come while typing). The words are the index's own: the query goes through the very tokenizer
    /// the index uses (`SearchTokenizer`), so each term is one token (never a phrase, which the index cannot answer
    /// without positions) and nothing the user types is read as FTS5 syntax.
    static func ftsQuery(_ raw: String, db: Database) throws -> String? {
        let tokenizer = try db.makeTokenizer(SearchTokenizer.tokenizerDescriptor())
        let words = try tokenizer.tokenize(query: raw)
            .prefix(16)
            .map { "\"" + $0.token.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
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

    /// A message's text changed (an edit) or went (a delete leaves a tombstone whose text is NULL). External-content
    /// FTS5 forgets a row only when told its old text; the row then stays in the index with its new text, an empty
    /// one for a tombstone, so the index counts the rows its content table has (FTS5's integrity check compares
    /// them).
    static func replace(_ db: Database, id: MessageID, old: String?, new: String?) throws {
        if let old {
            try db.cachedStatement(sql: "INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', ?, ?)")
                .execute(arguments: [id, old])
        }
        try db.cachedStatement(sql: "INSERT INTO messages_fts (rowid, body) VALUES (?, ?)")
            .execute(arguments: [id, new])
    }
}
