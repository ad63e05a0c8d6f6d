import ChatCore
import Foundation
import Hummingbird
import NIOCore

/// The request context of every chatd route: who is calling (once authenticated) and from where.
public struct ChatRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Set by `AuthMiddleware`; routes behind it read it from `AuthenticatedContext`.
    public var identity: Identity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// A backstop only: routes read bodies through `decodeJSON`, which applies `limits.max_body_bytes`.
    public var maxUploadSize: Int { 16 << 20 }
    public var requestDecoder: JSONDecoder { ChatJSON.decoder() }
    public var responseEncoder: JSONEncoder { ChatJSON.encoder() }

    /// The client's IP address, the key of per-IP limits.
    var clientIP: String {
        remoteAddress?.ipAddress ?? "unknown"
    }
}
