import ChatCore
import ChatStore
import Hummingbird
import NIOCore

/// `/v1/sync` (the caller's events after a cursor) and `/v1/search` (full text over the caller's conversations).
struct SyncRoutes {
    let services: ChatServices

    func register(on group: RouterGroup<ChatRequestContext>) {
        group.get("sync", use: sync)
        group.get("search", use: search)
    }

    /// Without `cursor`: no events, and the head cursor to start from. With it: up to `limit` events after it,
    /// `has_more` when another page follows. A cursor older than the retained log gets 410 `reset_required`.
    @Sendable func sync(_ request: Request, context: ChatRequestContext) async throws -> Response {
        let user = try context.requireIdentity().userId
        let limit = try Validate.limit(try request.query("limit", as: Int.self), default: 100, max: 1000)
        guard let cursor = try request.query("cursor", as: EventCursor.self) else {
            return Self.json(events: [], cursor: try await services.store.headCursor(), hasMore: false)
        }
        guard cursor >= 0 else { throw ChatError.invalid("cursor must not be negative") }
        switch try await services.store.sync(user: user, after: cursor, limit: limit) {
        case .events(let events, let next, let hasMore):
            return Self.json(events: events, cursor: next, hasMore: hasMore)
        case .resetRequired(let head, let oldest):
            throw ChatError(
                .resetRequired,
                "cursor \(cursor) is outside the retained event log (kept: after \(oldest), head \(head)); "
                    + "reload your conversations and continue from cursor \(head)")
        }
    }

    /// Events are already encoded once each; the page is assembled around them.
    static func json(events: [Event], cursor: EventCursor, hasMore: Bool) -> Response {
        var body = "{\"cursor\":\(cursor),\"events\":["
        for (index, event) in events.enumerated() {
            if index > 0 { body += "," }
            body += event.json
        }
        body += "],\"has_more\":\(hasMore)}"
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    struct SearchResponse: ResponseEncodable {
        var results: [SearchHit]
    }

    @Sendable func search(_ request: Request, context: ChatRequestContext) async throws -> SearchResponse {
        let user = try context.requireIdentity().userId
        guard let query = request.uri.queryParameters.get("q"), !query.isEmpty else {
            throw ChatError.invalid("query parameter 'q' is required")
        }
        guard query.utf8.count <= 256 else { throw ChatError.invalid("q must be at most 256 bytes") }
        let limit = try Validate.limit(try request.query("limit", as: Int.self), default: 20, max: 100)
        let conversation = try request.query("conversation_id", as: ConversationID.self)
        let hits = try await services.store.search(query, user: user, conversation: conversation, limit: limit)
        return SearchResponse(results: hits)
    }
}
