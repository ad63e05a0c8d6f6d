import ChatCore
import ChatRealtime

/// The server's services as the realtime gateway's backend: the same authenticator, store and message service as
/// the REST routes.
struct RealtimeServices: RealtimeBackend {
    let services: ChatServices

    var maxMessageBytes: Int { services.messages.maxMessageBytes }

    func authenticate(token: String) async throws -> Identity {
        let identity = try await services.authenticator.identify(bearer: token)
        services.usage.userActive(identity.userId)
        return identity
    }

    func memberships(of user: UserID) async throws -> (conversations: [ConversationID], head: EventCursor) {
        try await services.conversations.memberships(of: user)
    }

    func headCursor() async throws -> EventCursor {
        try await services.sync.head()
    }

    func events(for user: UserID, after cursor: EventCursor, limit: Int) async throws -> SyncPage {
        try await services.sync.page(for: user, after: cursor, limit: limit)
    }

    func perform(
        _ command: ClientCommand, as user: UserID,
        completion: @escaping @Sendable (Result<CommandResult, any Error>) -> Void
    ) {
        let messages = services.messages
        switch command {
        case .send(let conversation, let clientId, let text, let replyTo, let attachments):
            messages.send(
                sender: user, conversation: conversation, clientId: clientId, text: text, replyTo: replyTo,
                attachments: attachments
            ) { result in
                completion(result.map { CommandResult(status: $0.duplicate ? 200 : 201, json: $0.json) })
            }
        case .edit(let conversation, let seq, let text):
            answer(completion) { .ok(try await messages.edit(conversation: conversation, seq: seq, text: text, editor: user)) }
        case .delete(let conversation, let seq):
            answer(completion) { .ok(try await messages.delete(conversation: conversation, seq: seq, actor: user)) }
        case .react(let conversation, let seq, let emoji, let remove):
            answer(completion) {
                .ok(try await messages.react(emoji, add: !remove, conversation: conversation, seq: seq, user: user))
            }
        case .markRead(let conversation, let seq):
            answer(completion) {
                .ok(try await messages.markReceipt(.read, upTo: seq, conversation: conversation, user: user))
            }
        case .markDelivered(let conversation, let seq):
            answer(completion) {
                .ok(try await messages.markReceipt(.delivered, upTo: seq, conversation: conversation, user: user))
            }
        }
    }

    /// Runs a command that has no completion-based path in a Task and hands its result to `completion`.
    private func answer(
        _ completion: @escaping @Sendable (Result<CommandResult, any Error>) -> Void,
        _ work: @escaping @Sendable () async throws -> CommandResult
    ) {
        Task {
            do {
                completion(.success(try await work()))
            } catch {
                completion(.failure(error))
            }
        }
    }

    func presenceVisible(_ users: [UserID], viewer: UserID) async throws -> [PresenceVisibility] {
        try await services.accounts.presenceVisible(users, to: viewer)
    }

    func saveLastSeen(_ times: [UserID: Millis]) async throws {
        try await services.accounts.saveLastSeen(times)
    }

    func releaseMemory() async {
        services.store.releaseMemory()
    }
}

extension CommandResult {
    static func ok(_ value: some Encodable) -> CommandResult {
        CommandResult(status: 200, json: ChatJSON.string(value))
    }
}
