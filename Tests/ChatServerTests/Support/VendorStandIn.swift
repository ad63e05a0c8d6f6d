import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization

/// A push vendor on loopback for tests: HTTPS with a test certificate (chatd trusts it through `push.ca_file`),
/// HTTP/2 through ALPN (only HTTP/2 when `http2Only`, as APNs), every request recorded and answered by `answer`,
/// which a test sets to verify what the vendor verifies and to script failures.
final class VendorStandIn: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        /// Names in lower case.
        var headers: [String: String]
        var body: Data
        /// 1 or 2.
        var httpVersion: Int
    }

    struct Response: Sendable {
        var status: Int
        var headers: [String: String] = [:]
        var body: Data = Data()

        static func json(_ status: Int, _ text: String, headers: [String: String] = [:]) -> Response {
            Response(status: status, headers: headers.merging(["content-type": "application/json"]) { $1 }, body: Data(text.utf8))
        }
    }

    let certificate: TestCertificate
    let port: Int
    private let channel: any Channel
    private let requests = Locked<[Request]>([])
    private let answerer = Locked<@Sendable (Request) -> Response>({ _ in Response(status: 200) })

    var origin: String { "https://127.0.0.1:\(port)" }

    /// Every request so far, in arrival order.
    var received: [Request] { requests.withLock { $0 } }

    /// Sets how requests are answered from now on.
    func answer(_ body: @escaping @Sendable (Request) -> Response) {
        answerer.withLock { $0 = body }
    }

    init(http2Only: Bool = false) async throws {
        let certificate = try TestCertificate()
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(certificate.certificate)],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.keyPEM.utf8), format: .pem)))
        tls.applicationProtocols = http2Only ? ["h2"] : ["h2", "http/1.1"]
        let context = try NIOSSLContext(configuration: tls)
        let requests = self.requests
        let answerer = self.answerer
        let record: @Sendable (Request) -> Response = { request in
            requests.withLock { $0.append(request) }
            return answerer.withLock { $0 }(request)
        }
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                }.flatMap {
                    channel.configureHTTP2SecureUpgrade(
                        h2ChannelConfigurator: { channel in
                            channel.configureHTTP2Pipeline(mode: .server) { stream in
                                stream.eventLoop.makeCompletedFuture {
                                    try stream.pipeline.syncOperations.addHandlers([
                                        HTTP2FramePayloadToHTTP1ServerCodec(), Responder(version: 2, record: record),
                                    ])
                                }
                            }.map { _ in }
                        },
                        http1ChannelConfigurator: { channel in
                            guard !http2Only else { return channel.close() }
                            return channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                                try channel.pipeline.syncOperations.addHandler(Responder(version: 1, record: record))
                            }
                        })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
        self.certificate = certificate
    }

    /// Writes the certificate for `push.ca_file`; returns its path.
    func writeCertificate(to folder: URL) throws -> String {
        let path = folder.appendingPathComponent("vendor-\(port).pem").path
        try Data(certificate.chainPEM.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func stop() async {
        try? await channel.close()
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let version: Int
        let record: @Sendable (Request) -> Response
        private var head: HTTPRequestHead?
        private var body = Data()

        init(version: Int, record: @escaping @Sendable (Request) -> Response) {
            self.version = version
            self.record = record
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = Data()
            case .body(let buffer):
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                guard let head else { return }
                let request = Request(
                    method: head.method.rawValue, path: head.uri,
                    headers: Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { $1 }),
                    body: body, httpVersion: version)
                let response = record(request)
                var headers = HTTPHeaders(response.headers.map { ($0.key, $0.value) })
                headers.replaceOrAdd(name: "content-length", value: "\(response.body.count)")
                context.write(
                    wrapOutboundOut(
                        .head(HTTPResponseHead(version: head.version, status: .init(statusCode: response.status), headers: headers))),
                    promise: nil)
                if !response.body.isEmpty {
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
                }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                self.head = nil
            }
        }
    }
}
