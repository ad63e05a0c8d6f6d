import ChatCore
import Foundation

/// The `id` a client may put on any frame; every reply echoes it unchanged. A string of at most 64 bytes or an
/// integer.
enum FrameID: Sendable, Equatable, Decodable {
    case string(String)
    case number(Int64)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) {
            self = .number(number)
            return
        }
        let string = try container.decode(String.self)
        guard string.utf8.count <= 64 else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "id is longer than 64 bytes")
        }
        self = .string(string)
    }

    var json: String {
        switch self {
        case .number(let number): String(number)
        case .string(let string): ServerFrame.quoted(string)
        }
    }
}

/// What a client asks for in one text frame.
enum ClientRequest: Sendable, Equatable {
    case hello(token: String, cursor: EventCursor?)
    case auth(token: String)
    case command(ClientCommand)
    case typing(conversation: ConversationID, active: Bool)
    case presenceSubscribe([UserID])
    case presenceUnsubscribe([UserID])
    case ping
}

/// A parsed client frame: its `id` (if any) and what it asks for.
struct ClientFrame: Sendable, Equatable {
    var id: FrameID?
    var request: ClientRequest

    /// The frame types a client may send, as `share/asyncapi.yaml` lists them.
    static let types = [
        "hello", "auth", "send", "edit", "delete", "react", "read", "delivered", "typing", "presence.subscribe",
        "presence.unsubscribe", "ping",
    ]

    /// At most this many users per presence subscription frame.
    static let maxPresenceUsers = 500

    /// Parses one text frame. A failure carries the frame's `id` when it could be read, so the error reply can
    /// echo it.
    static func parse(_ bytes: some Collection<UInt8>) -> Result<ClientFrame, FrameError> {
        let data = Data(bytes)
        let fields: Fields
        do {
            fields = try decoder.decode(Fields.self, from: data)
        } catch {
            let id = (try? decoder.decode(IDOnly.self, from: data))?.id
            return .failure(FrameError(id: id, error: ChatError.invalid(Self.describe(error))))
        }
        if ChatJSON.hasFractionalNumber(bytes) {
            return .failure(FrameError(id: fields.id, error: ChatError.invalid(ChatJSON.integersOnly)))
        }
        do {
            return .success(ClientFrame(id: fields.id, request: try fields.request()))
        } catch let error as ChatError {
            return .failure(FrameError(id: fields.id, error: error))
        } catch {
            return .failure(FrameError(id: fields.id, error: ChatError.invalid("\(error)")))
        }
    }

    /// Field names are spelled out in `Fields.CodingKeys`: converting every key from snake case costs more than the
    /// rest of the decoding on the path of every frame.
    private static let decoder = JSONDecoder()

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "the frame is not a JSON object" }
        if case .typeMismatch(_, let context) = error, context.codingPath.isEmpty {
            return "a frame must be a JSON object"
        }
        return ChatCore.describe(error, whole: "the frame")
    }

    private struct IDOnly: Decodable {
        var id: FrameID?
    }

    /// Every field any frame type uses; unknown fields are ignored.
    private struct Fields: Decodable {
        var type: String
        var id: FrameID?
        var token: String?
        var cursor: EventCursor?
        var conversationId: ConversationID?
        var clientId: String?
        var text: String?
        var replyTo: Seq?
        var seq: Seq?
        var emoji: String?
        var remove: Bool?
        var state: String?
        var userIds: [UserID]?
        var attachments: [Int64]?

        enum CodingKeys: String, CodingKey {
            case type, id, token, cursor, text, seq, emoji, remove, state, attachments
            case conversationId = "conversation_id"
            case clientId = "client_id"
            case replyTo = "reply_to"
            case userIds = "user_ids"
        }

        func request() throws -> ClientRequest {
            switch type {
            case "hello":
                if let cursor, cursor < 0 { throw ChatError.invalid("cursor must not be negative") }
                return .hello(token: try required(token, "token"), cursor: cursor)
            case "auth":
                return .auth(token: try required(token, "token"))
            case "send":
                return .command(
                    .send(
                        conversation: try conversation(), clientId: try required(clientId, "client_id"),
                        text: text ?? "", replyTo: replyTo, attachments: attachments ?? []))
            case "edit":
                return .command(.edit(conversation: try conversation(), seq: try position(), text: try required(text, "text")))
            case "delete":
                return .command(.delete(conversation: try conversation(), seq: try position()))
            case "react":
                return .command(
                    .react(
                        conversation: try conversation(), seq: try position(), emoji: try required(emoji, "emoji"),
                        remove: remove ?? false))
            case "read":
                return .command(.markRead(conversation: try conversation(), seq: try required(seq, "seq")))
            case "delivered":
                return .command(.markDelivered(conversation: try conversation(), seq: try required(seq, "seq")))
            case "typing":
                switch try required(state, "state") {
                case "start": return .typing(conversation: try conversation(), active: true)
                case "stop": return .typing(conversation: try conversation(), active: false)
                default: throw ChatError.invalid("state must be \"start\" or \"stop\"")
                }
            case "presence.subscribe":
                return .presenceSubscribe(try users())
            case "presence.unsubscribe":
                return .presenceUnsubscribe(try users())
            case "ping":
                return .ping
            default:
                throw ChatError.invalid("unknown frame type '\(type)'; known: \(ClientFrame.types.joined(separator: ", "))")
            }
        }

        private func required<T>(_ value: T?, _ name: String) throws -> T {
            guard let value else { throw ChatError.invalid("field '\(name)' is required for '\(type)'") }
            return value
        }

        private func conversation() throws -> ConversationID {
            try Validate.positive(try required(conversationId, "conversation_id"), field: "conversation_id")
        }

        private func position() throws -> Seq {
            try Validate.positive(try required(seq, "seq"), field: "seq")
        }

        private func users() throws -> [UserID] {
            let users = try required(userIds, "user_ids")
            guard users.count <= ClientFrame.maxPresenceUsers else {
                throw ChatError.invalid("user_ids may name at most \(ClientFrame.maxPresenceUsers) users")
            }
            return users
        }
    }
}

/// A frame that could not be parsed: answered with an error reply, never a disconnect.
struct FrameError: Error, Sendable {
    var id: FrameID?
    var error: ChatError
}
