import ChatConfiguration
import Foundation
import Hummingbird
import ServiceLifecycle
import Logging

/// The optional plain-HTTP listener (port 80) of a server with TLS: it answers ACME HTTP-01 challenges from the
/// webroot folder certbot writes into, and redirects everything else to the same path over HTTPS.
enum RedirectServer {
    /// `httpsPort` is the HTTPS listener's port once bound (the configured one, unless that is 0).
    static func make(config: ChatConfig, httpsPort: @escaping @Sendable () -> Int, logger: Logger) -> some Service {
        let router = Router()
        router.add(middleware: Redirect(tls: config.tls, httpsPort: httpsPort))
        return Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(config.server.host, port: config.tls.redirectPort), serverName: "chatd"),
            onServerRunning: { channel in
                logger.notice(
                    "redirecting plain HTTP to HTTPS",
                    metadata: ["port": "\(channel.localAddress?.port ?? config.tls.redirectPort)"])
            },
            logger: logger)
    }

    /// Answers every request itself; the router behind it has no routes.
    struct Redirect: RouterMiddleware {
        typealias Context = BasicRequestContext
        let tls: ChatConfig.TLS
        let httpsPort: @Sendable () -> Int

        static let challengePrefix = "/.well-known/acme-challenge/"

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
            async throws -> Response
        {
            let path = request.uri.path
            if path.hasPrefix(Self.challengePrefix), !tls.acmeWebroot.isEmpty {
                return challenge(token: String(path.dropFirst(Self.challengePrefix.count)))
            }
            guard let host = Self.hostName(request.head.authority) else {
                return Response(status: .badRequest, body: .init(byteBuffer: .init(string: "a Host header is required\n")))
            }
            let port = httpsPort() == 443 ? "" : ":\(httpsPort())"
            var query = request.uri.query.map { "?\($0)" } ?? ""
            if query == "?" { query = "" }
            return Response(
                status: .permanentRedirect, headers: [.location: "https://\(host)\(port)\(path)\(query)"])
        }

        /// The token certbot wrote, served as text; a token is base64url, so it never names another file.
        func challenge(token: String) -> Response {
            guard !token.isEmpty, token.utf8.allSatisfy({ Self.isBase64URL($0) }) else {
                return Response(status: .notFound)
            }
            let file = URL(fileURLWithPath: tls.acmeWebroot).appendingPathComponent(".well-known/acme-challenge/\(token)")
            guard let data = FileManager.default.contents(atPath: file.path) else { return Response(status: .notFound) }
            return Response(
                status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: .init(bytes: data)))
        }

        static func isBase64URL(_ byte: UInt8) -> Bool {
            (65...90).contains(byte) || (97...122).contains(byte) || (48...57).contains(byte) || byte == 45 || byte == 95
        }

        /// The host of a Host header without its port; nil when absent or not a plain name or address.
        static func hostName(_ authority: String?) -> String? {
            guard let authority, !authority.isEmpty else { return nil }
            let host: Substring
            if authority.hasPrefix("[") {
                guard let end = authority.firstIndex(of: "]") else { return nil }
                host = authority[...end]
            } else {
                host = authority.split(separator: ":", maxSplits: 1).first ?? ""
            }
            let allowed = host.utf8.allSatisfy { isBase64URL($0) || $0 == 46 || $0 == 58 || $0 == 91 || $0 == 93 }
            return host.isEmpty || !allowed ? nil : String(host)
        }
    }
}
