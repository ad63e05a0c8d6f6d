import ChatCore
import NIOCore

// The values a session hands its connection: what to do, what became of a live event, who leaves the hub; and the
// data of its replay state.
extension Session {
    /// The replay from the store between `welcome` and `synced`.
    struct Replay: Equatable {
        enum Step: Equatable {
            /// The hub needs the user's conversations before their live events can reach this connection.
            case loadingMemberships
            /// A client without a cursor starts at the head.
            case readingHead
            /// The next page is wanted once what came before it is written (`nextPage`).
            case pageWanted
            /// The next page waits for the socket to drain.
            case waitingForWritability
            case readingPage
        }

        var step: Step
        /// The cursor the client resumes from; nil when it starts at the head.
        var resumeFrom: EventCursor?
        /// Live events that arrived meanwhile, in cursor order, with their frames.
        var held: [HeldEvent] = []
        /// Live events were dropped from `held` since the last page was asked for, so one more page must be read.
        var heldDropped = false
    }

    struct HeldEvent: Equatable {
        var cursor: EventCursor
        var frame: ByteBuffer
    }

    /// Who leaves the hub when a session that was in it ends.
    struct Departure: Equatable {
        var user: UserID
        var watching: [UserID]
    }

    /// What the connection does.
    enum Action: Equatable {
        /// A frame of the server (a reply, `welcome`, `synced`, …).
        case send(String)
        /// A replayed (or held) event: exempt from the outbound limit, see `OutboundQueue.Kind.replay`.
        case replay(ByteBuffer)
        case pong(ByteBuffer)
        case ping
        /// Writes the close frame and closes the socket once it is out; leaves the hub first.
        case close(CloseReason, leaving: Departure?)
        /// The close frame did not go out in time: drop the socket.
        case abort
        /// The socket is gone: leave the hub (if in it) and the gateway's counts.
        case disconnected(leaving: Departure?)
        case authenticate(token: String)
        case reauthenticate(token: String, id: FrameID?)
        case attach(UserID, session: SessionID?)
        case loadMemberships(UserID)
        /// Gives the hub the user's conversations (see `Hub.membershipLoaded`).
        case indexMemberships(UserID, conversations: [ConversationID], head: EventCursor)
        case readHead
        /// The actions before this one are the previous page: once they are written, ask `nextPage(writable:)`.
        case continueReplay
        case readPage(user: UserID, after: EventCursor)
        case perform(ClientCommand, user: UserID, id: FrameID?)
        case typing(user: UserID, conversation: ConversationID, active: Bool, id: FrameID?)
        case checkPresence(users: [UserID], viewer: UserID, id: FrameID?)
        case watch(visible: [PresenceVisibility], id: FrameID?)
        case unwatch([UserID], reply: String)
    }

    /// What to do with a live event from the hub.
    enum LiveDecision: Equatable {
        case write
        /// Already sent (by the replay) or older than the session's position.
        case skip
        /// Held until the replay catches up.
        case held
    }
}
