import ChatRealtime
import Foundation
import Logging
import Testing

@testable import ChatServer

/// `share/openapi.yaml` and the router name the same routes: nothing undocumented, nothing documented that is gone.
@Suite struct OpenAPITests {
    @Test func documentAndRouterNameTheSameRoutes() async throws {
        let config = testConfig()
        defer { try? FileManager.default.removeItem(atPath: config.storage.dataDirectory) }
        let services = try await ChatServices.make(config: config, logger: Logger(label: "test"))
        let gateway = RealtimeGateway(
            backend: RealtimeServices(services: services), limits: config.realtime, logger: Logger(label: "test"))
        let router = makeRouter(services, gateway: gateway)
        let served = Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" })
        let documented = try Self.documentedRoutes()
        #expect(served.count > 30)
        #expect(served.subtracting(documented).sorted() == [], "served but not documented")
        #expect(documented.subtracting(served).sorted() == [], "documented but not served")
        try services.store.close()
    }

    /// "METHOD /path" for every operation under `paths:` (two-space path keys, four-space method keys).
    static func documentedRoutes() throws -> Set<String> {
        let file = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("share/openapi.yaml")
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        var routes = Set<String>()
        var inPaths = false
        var path: String?
        let methods = ["get", "put", "post", "patch", "delete", "head", "options"]
        for line in lines {
            if !line.hasPrefix(" "), !line.isEmpty {
                inPaths = line.hasPrefix("paths:")
                continue
            }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let path {
                let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                if line.hasSuffix(":"), methods.contains(String(key)) { routes.insert("\(key.uppercased()) \(path)") }
            }
        }
        return routes
    }
}
