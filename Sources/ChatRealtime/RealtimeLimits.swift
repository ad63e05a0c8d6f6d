/// The gateway's limits and timings (`[realtime]` in the configuration).
public struct RealtimeLimits: Sendable, Equatable {
    /// Largest frame (or fragmented message) a client may send.
    public var maxFrameBytes = 64 * 1024
    /// Sustained frames per second per connection, and the burst above it.
    public var framesPerSecond = 20
    public var frameBurst = 60
    /// Sustained frames per second per user, over all their connections (burst: twice a connection's).
    public var userFramesPerSecond = 50
    var userFrameBurst: Int { frameBurst * 2 }
    public var maxConnectionsPerUser = 10
    public var maxConnectionsPerIP = 1000
    /// The server pings a connection silent this long; one silent for `timeoutSeconds` is closed.
    public var heartbeatSeconds = 30
    public var timeoutSeconds = 75
    public var helloTimeoutSeconds = 10
    /// Bytes queued for a connection that is not reading before the server gives up on it.
    public var maxOutboundBytes = 256 * 1024
    /// Time to present a fresh token after the access token expired.
    public var reauthGraceSeconds = 60
    /// Typing stops by itself after this long without a refresh; a sender's refreshes are forwarded at most this
    /// often.
    public var typingTTLMillis = 6000
    public var typingThrottleMillis = 2000

    public init() {}
}
