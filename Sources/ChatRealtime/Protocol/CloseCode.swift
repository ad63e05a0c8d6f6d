import NIOWebSocket

/// Why the server closes a socket. Codes 4000–4999 are chatd's own and follow the HTTP status they resemble
/// (4000 + status), like the reply codes. `share/protocol.md` lists them with what a client should do.
struct CloseReason: Sendable, Equatable {
    var code: UInt16
    var reason: String

    var webSocketCode: WebSocketErrorCode { WebSocketErrorCode(codeNumber: Int(code)) }

    /// The client closed; the server answers in kind.
    static let normal = CloseReason(code: 1000, reason: "bye")
    /// The server is shutting down: reconnect (with backoff) and resume from your cursor.
    static let goingAway = CloseReason(code: 1001, reason: "server shutting down; resume from your cursor")
    static let protocolError = CloseReason(code: 1002, reason: "WebSocket protocol error")
    static let reservedBits = CloseReason(code: 1002, reason: "reserved bits set without a negotiated extension")
    static let unmasked = CloseReason(code: 1002, reason: "client frames must be masked")
    static let interleaved = CloseReason(code: 1002, reason: "a new message began inside a fragmented one")
    static let unexpectedContinuation = CloseReason(code: 1002, reason: "continuation frame without a message")
    static let unknownOpcode = CloseReason(code: 1002, reason: "unknown opcode")
    static let binaryFrame = CloseReason(code: 1003, reason: "binary frames are not supported; send JSON text frames")
    static let invalidUTF8 = CloseReason(code: 1007, reason: "text frames must be UTF-8")
    static let tooLarge = CloseReason(code: 1009, reason: "frame too large")
    /// The server could not read what the session needs: reconnect later and resume.
    static let serverError = CloseReason(code: 1011, reason: "server error; reconnect and resume")
    /// The first frame was not a valid `hello`.
    static let helloRequired = CloseReason(code: 4400, reason: "the first frame must be a hello")
    static func unauthorized(_ why: String) -> CloseReason { CloseReason(code: 4401, reason: why) }
    /// The login session was ended (logout, a reused refresh token, a password change).
    static func sessionRevoked(_ why: String) -> CloseReason { CloseReason(code: 4401, reason: "session ended: \(why)") }
    static let helloTimeout = CloseReason(code: 4408, reason: "no hello in time")
    static let heartbeatTimeout = CloseReason(code: 4408, reason: "heartbeat timeout")
    static let tooManyConnections = CloseReason(code: 4429, reason: "too many connections for this user")
    static let flood = CloseReason(code: 4429, reason: "too many frames")
    /// The connection could not keep up with its events: reconnect and resume from your cursor.
    static let slowConsumer = CloseReason(code: 4503, reason: "too slow; resume from your cursor")

    /// Every code, for the protocol document's test.
    static let all: [CloseReason] = [
        .normal, .goingAway, .protocolError, .reservedBits, .unmasked, .interleaved, .unexpectedContinuation,
        .unknownOpcode, .binaryFrame, .invalidUTF8, .tooLarge, .serverError, .helloRequired, .unauthorized(""),
        .sessionRevoked(""), .helloTimeout, .flood, .slowConsumer,
    ]
}
