import ChatCore
import Foundation
import Hummingbird
import NIOCore

/// The request context of every route behind `AuthMiddleware`: the caller's identity is there, not optional.
/// Made from `ChatRequestContext` once the middleware has verified the token, so a handler cannot forget to ask.
public struct AuthenticatedContext: ChildRequestContext {
    public typealias ParentContext = ChatRequestContext
    public var coreContext: CoreRequestContextStorage
    public let identity: Identity
    public let remoteAddress: SocketAddress?

    public init(context: ChatRequestContext) throws {
        guard let identity = context.identity else { throw ChatError.unauthorized }
        coreContext = context.coreContext
        self.identity = identity
        remoteAddress = context.remoteAddress
    }

    /// The caller.
    var user: UserID { identity.userId }

    public var maxUploadSize: Int { 16 << 20 }
    public var requestDecoder: JSONDecoder { ChatJSON.decoder() }
    public var responseEncoder: JSONEncoder { ChatJSON.encoder() }
}
