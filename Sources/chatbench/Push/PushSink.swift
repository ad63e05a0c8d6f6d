import ChatCore
import ChatPush
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import SwiftASN1
import Synchronization
import X509

/// A Web Push service on loopback for `chatbench push`: HTTPS with its own certificate (chatd trusts it through
/// `push.ca_file`), HTTP/2 or HTTP/1.1 as the client negotiates, answering 201 at once. It notes when each
/// notification arrived and for which subscription, and keeps every body so the scenario can decrypt them after
/// the timed window.
final class PushSink: Sendable {
    struct Arrival: Sendable {
        var path: String
        var at: UInt64
        var body: Data
        var authorization: String
    }

    let port: Int
    let certificatePEM: String
    private let channel: any Channel
    private let arrivals: Arrivals

    final class Arrivals: Sendable {
        let list = Mutex<[Arrival]>([])
    }

    var origin: String { "https://127.0.0.1:\(port)" }

    init() async throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("chatbench push sink") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-3600), notValidAfter: Date().addingTimeInterval(86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                SubjectAlternativeNames([.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
            },
            issuerPrivateKey: .init(key))
        certificatePEM = try certificate.serializeAsPEM().pemString + "\n"
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)))
        tls.applicationProtocols = ["h2", "http/1.1"]
        let context = try NIOSSLContext(configuration: tls)
        let arrivals = Arrivals()
        self.arrivals = arrivals
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
                                        HTTP2FramePayloadToHTTP1ServerCodec(), Accepting(arrivals: arrivals),
                                    ])
                                }
                            }.map { _ in }
                        },
                        http1ChannelConfigurator: { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                                try channel.pipeline.syncOperations.addHandler(Accepting(arrivals: arrivals))
                            }
                        })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    var received: [Arrival] { arrivals.list.withLock { $0 } }

    func reset() { arrivals.list.withLock { $0.removeAll(keepingCapacity: true) } }

    func stop() async { try? await channel.close() }

    private final class Accepting: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let arrivals: Arrivals
        private var head: HTTPRequestHead?
        private var body = Data()

        init(arrivals: Arrivals) { self.arrivals = arrivals }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = Data()
            case .body(let buffer):
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                guard let head else { return }
                let arrival = Arrival(
                    path: head.uri, at: now(), body: body, authorization: head.headers.first(name: "authorization") ?? "")
                arrivals.list.withLock { $0.append(arrival) }
                var headers = HTTPHeaders()
                headers.add(name: "content-length", value: "0")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .created, headers: headers))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                self.head = nil
            }
        }
    }
}
