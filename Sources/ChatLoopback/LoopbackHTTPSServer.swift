import Crypto
import Dispatch
import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import SwiftASN1
import Synchronization
import X509

/// An HTTPS server on 127.0.0.1 that stands in for a service chatd calls (a push vendor) in tests and benchmarks:
/// its own self-signed certificate (give chatd `certificatePEM` to trust), HTTP/2 through ALPN (only HTTP/2 when
/// `http2Only`, as APNs), every request recorded with its arrival time and answered by `answer`, which the caller
/// sets to check what the real service checks and to script failures.
public final class LoopbackHTTPSServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var path: String
        /// Names in lower case.
        public var headers: [String: String]
        public var body: Data
        /// 1 or 2.
        public var httpVersion: Int
        /// `DispatchTime.now().uptimeNanoseconds` when its last byte arrived.
        public var arrivedAt: UInt64
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data

        public init(status: Int, headers: [String: String] = [:], body: Data = Data()) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        public static func json(_ status: Int, _ text: String, headers: [String: String] = [:]) -> Response {
            Response(status: status, headers: headers.merging(["content-type": "application/json"]) { $1 }, body: Data(text.utf8))
        }
    }

    /// What the connections' handlers share with the server: made before the server exists.
    private final class Exchange: Sendable {
        final class Answerer: Sendable {
            let body: @Sendable (Request) -> Response
            init(_ body: @escaping @Sendable (Request) -> Response) { self.body = body }
        }
        let requests = Mutex<[Request]>([])
        let answerer = Mutex(Answerer { _ in Response(status: 200) })

        func handle(_ request: Request) -> Response {
            requests.withLock { $0.append(request) }
            return answerer.withLock { $0 }.body(request)
        }
    }

    public let port: Int
    public let certificatePEM: String
    private let channel: any Channel
    private let exchange = Exchange()

    public var origin: String { "https://127.0.0.1:\(port)" }

    /// Every request since start or the last `reset`, in arrival order.
    public var received: [Request] { exchange.requests.withLock { $0 } }

    public func reset() { exchange.requests.withLock { $0.removeAll(keepingCapacity: true) } }

    /// Sets how requests are answered from now on (200 with no body until then).
    public func answer(_ body: @escaping @Sendable (Request) -> Response) {
        let answerer = Exchange.Answerer(body)
        exchange.answerer.withLock { $0 = answerer }
    }

    public init(http2Only: Bool = false) async throws {
        let key = P256.Signing.PrivateKey()
        // A name of its own: a trust store finds an issuer by its name, and several of these may be trusted at once.
        let name = try DistinguishedName { CommonName("chatd loopback service \(UUID().uuidString)") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-3600), notValidAfter: Date().addingTimeInterval(7 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                SubjectAlternativeNames([.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
            },
            issuerPrivateKey: .init(key))
        let pem = try certificate.serializeAsPEM().pemString + "\n"
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)))
        tls.applicationProtocols = http2Only ? ["h2"] : ["h2", "http/1.1"]
        let context = try NIOSSLContext(configuration: tls)
        let exchange = self.exchange
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
                                        HTTP2FramePayloadToHTTP1ServerCodec(), Responder(version: 2, exchange: exchange),
                                    ])
                                }
                            }.map { _ in }
                        },
                        http1ChannelConfigurator: { channel in
                            guard !http2Only else { return channel.close() }
                            return channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                                try channel.pipeline.syncOperations.addHandler(Responder(version: 1, exchange: exchange))
                            }
                        })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
        certificatePEM = pem
    }

    /// Writes the certificate (for `push.ca_file`) into `folder`; returns its path.
    public func writeCertificate(to folder: URL) throws -> String {
        let path = folder.appendingPathComponent("loopback-\(port).pem").path
        try Data(certificatePEM.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    public func stop() async {
        try? await channel.close()
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let version: Int
        let exchange: Exchange
        private var head: HTTPRequestHead?
        private var body = Data()

        init(version: Int, exchange: Exchange) {
            self.version = version
            self.exchange = exchange
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
                let response = exchange.handle(
                    Request(
                        method: head.method.rawValue, path: head.uri,
                        headers: Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { $1 }),
                        body: body, httpVersion: version, arrivedAt: DispatchTime.now().uptimeNanoseconds))
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
