import ChatCore

/// A change a client asks for over its socket: the same operations, with the same rules, as the REST routes.
public enum ClientCommand: Sendable, Equatable {
    case send(conversation: ConversationID, clientId: String, text: String, replyTo: Seq?, attachments: [Int64])
    case edit(conversation: ConversationID, seq: Seq, text: String)
    case delete(conversation: ConversationID, seq: Seq)
    case react(conversation: ConversationID, seq: Seq, emoji: String, remove: Bool)
    case markRead(conversation: ConversationID, seq: Seq)
    case markDelivered(conversation: ConversationID, seq: Seq)
}

/// The answer to a command: an HTTP-like status and the JSON object of the `result`.
public struct CommandResult: Sendable, Equatable {
    public var status: Int
    public var json: String

    public init(status: Int, json: String) {
        self.status = status
        self.json = json
    }
}

/// What the gateway needs from the rest of chatd. `ChatServer` implements it on top of the store and the auth
/// services, so ChatRealtime never sees SQLite. Every method may throw `ChatError`; anything else is a 500.
public protocol RealtimeBackend: Sendable {
    /// The largest message text the message service accepts, told to clients in `welcome`.
    var maxMessageBytes: Int { get }
    /// Verifies an access token (chatd's own or the app backend's) and that its login session is still open.
    func authenticate(token: String) async throws -> Identity
    /// The user's conversations and the head cursor of the same snapshot.
    func memberships(of user: UserID) async throws -> (conversations: [ConversationID], head: EventCursor)
    /// The cursor of the newest event.
    func headCursor() async throws -> EventCursor
    /// A page of the user's events after `cursor` (the same as `GET /v1/sync`).
    func events(for user: UserID, after cursor: EventCursor, limit: Int) async throws -> SyncPage
    /// Performs a command as `user` and calls `completion`, from any thread, once the change is durable or refused.
    /// Not `async`: a send — the hottest path — is answered straight from the store's writer, with no Task per
    /// message; `completion` only hands the result to the socket's event loop.
    func perform(
        _ command: ClientCommand, as user: UserID,
        completion: @escaping @Sendable (Result<CommandResult, any Error>) -> Void)
    /// Of `users`, those whose presence `viewer` may see, with their stored last-seen time.
    func presenceVisible(_ users: [UserID], viewer: UserID) async throws -> [PresenceVisibility]
    /// Stores users' last-seen times (batched by the hub).
    func saveLastSeen(_ times: [UserID: Millis]) async throws
    /// Most clients just left: shrink caches that grew with them (the gateway then returns freed heap to the system).
    func releaseMemory() async
}
