import Hummingbird
import Synchronization

/// The served routes as path templates, to tell "no such path" (404) from "not with this method" (405 + `Allow`),
/// which Hummingbird's router answers alike.
final class RouteTable: Sendable {
    private let routes = Mutex<[(segments: [Substring], method: String)]>([])

    /// Loads the router's routes; called once, after every route is registered.
    func load(_ descriptions: [Router<ChatRequestContext>.RouteDescription]) {
        let loaded = descriptions.map { (Self.segments($0.path.description), $0.method.rawValue) }
        routes.withLock { $0 = loaded }
    }

    /// The methods served for `path`, sorted; empty when no route has this path. Like the router, it follows a
    /// literal segment over a parameter at each level and does not come back: `/v1/conversations/direct` is not
    /// `/v1/conversations/{conversation_id}`, and `/v1/users/by-handle` (a literal with no route of its own) has none.
    func methods(for path: String) -> [String] {
        let requested = Self.segments(path)
        let matching = routes.withLock { routes in
            var candidates = routes
            for (level, segment) in requested.enumerated() {
                candidates = candidates.filter { $0.segments.count > level }
                let literal = candidates.filter { $0.segments[level] == segment }
                candidates = literal.isEmpty ? candidates.filter { $0.segments[level].hasPrefix("{") } : literal
            }
            return candidates.filter { $0.segments.count == requested.count }.map(\.method)
        }
        return Set(matching).sorted()
    }

    private static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }
}
