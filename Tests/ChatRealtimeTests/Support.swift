import ChatCore
import NIOCore

@testable import ChatRealtime

/// An explicit moment: `seconds` on the monotonic clock, and a wall clock that moves with it.
func at(_ seconds: Double) -> SessionTime {
    SessionTime(
        monotonic: NIODeadline.uptimeNanoseconds(UInt64(1_000_000_000 + seconds * 1e9)),
        wall: 1_700_000_000_000 + Millis(seconds * 1000))
}

func text(_ json: String) -> Inbound {
    .text(ByteBuffer(string: json))
}

/// An event as the store would publish it.
func event(
    _ cursor: EventCursor, _ type: EventType = .messageCreated, conversation: ConversationID? = 1,
    audience: UserID? = nil, data: String = "{}"
) -> Event {
    Event(cursor: cursor, type: type, conversationId: conversation, audienceUserId: audience, at: 1, data: data)
}

extension Session.Action {
    /// The frame's JSON `type`, for a `send`.
    var sentType: String? {
        guard case .send(let text) = self else { return nil }
        return text.split(separator: "\"").dropFirst(3).first.map(String.init)
    }

    var closeCode: UInt16? {
        guard case .close(let reason, _) = self else { return nil }
        return reason.code
    }
}
