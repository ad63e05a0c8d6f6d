import ChatCore

/// The event log as clients read it (`/v1/sync`, the socket's replay) and full-text search, with their rules.
struct SyncService: Sendable {
    let log: any EventLogRepository
    let messages: any MessageRepository

    /// The cursor of the newest event: where a client without one starts.
    func head() async throws -> EventCursor {
        try await log.headCursor()
    }

    /// Up to `limit` of `user`'s events after `cursor`; a cursor outside the retained log gets `reset_required`.
    /// Without a cursor: no events, and the head cursor to start from.
    func events(for user: UserID, after cursor: EventCursor?, limit: Int?) async throws
        -> (events: [Event], cursor: EventCursor, hasMore: Bool)
    {
        let limit = try Validate.limit(limit, default: 100, max: 1000)
        guard let cursor else { return ([], try await head(), false) }
        guard cursor >= 0 else { throw ChatError.invalid("cursor must not be negative") }
        switch try await page(for: user, after: cursor, limit: limit) {
        case .events(let events, let next, let hasMore):
            return (events, next, hasMore)
        case .resetRequired(let head, let oldest):
            throw ChatError(
                .resetRequired,
                "cursor \(cursor) is outside the retained event log (kept: after \(oldest), head \(head)); "
                    + "reload your conversations and continue from cursor \(head)")
        }
    }

    /// A page as the socket's replay reads it: a reset is an answer, not an error.
    func page(for user: UserID, after cursor: EventCursor, limit: Int) async throws -> SyncPage {
        try await log.sync(user: user, after: cursor, limit: limit)
    }

    /// Messages of `user`'s conversations (or of one) matching every word of `query`.
    func search(_ query: String?, user: UserID, conversation: ConversationID?, limit: Int?) async throws
        -> [SearchHit]
    {
        guard let query, !query.isEmpty else { throw ChatError.invalid("query parameter 'q' is required") }
        let conversation = try conversation.map { try Validate.positive($0, field: "conversation_id") }
        return try await messages.search(
            try Validate.searchQuery(query), user: user, conversation: conversation,
            limit: try Validate.limit(limit, default: 20, max: 100))
    }
}
