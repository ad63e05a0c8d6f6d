import ChatCore
import Hummingbird
import NIOCore

/// `/v1/sync` (the caller's events after a cursor) and `/v1/search` (full text over the caller's conversations).
struct SyncRoutes {
    let services: ChatServices

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("sync", use: sync)
        group.get("search", use: search)
    }

    /// Without `cursor`: no events, and the head cursor to start from. With it: up to `limit` events after it,
    /// `has_more` when another page follows. A cursor older than the retained log gets 410 `reset_required`.
    @Sendable func sync(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let page = try await services.sync.events(
            for: context.user, after: try request.query("cursor", as: EventCursor.self),
            limit: try request.query("limit", as: Int.self))
        return Self.json(events: page.events, cursor: page.cursor, hasMore: page.hasMore)
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

    @Sendable func search(_ request: Request, context: AuthenticatedContext) async throws -> SearchResponse {
        let hits = try await services.sync.search(
            request.uri.queryParameters.get("q"), user: context.user,
            conversation: try request.query("conversation_id", as: ConversationID.self),
            limit: try request.query("limit", as: Int.self))
        return SearchResponse(results: hits)
    }
}
