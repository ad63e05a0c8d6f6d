import ChatConfiguration
import NIOCore

/// How long an HTTP connection may take over each part of an exchange (`[http]` in the configuration).
struct HTTPTimeouts: Sendable, Equatable {
    /// Between requests, with nothing of the next one received.
    var idle: TimeAmount
    /// From a request's first byte to the end of its head.
    var head: TimeAmount
    /// From the end of a head to the end of its body, plus one second for every `bodyBytesPerSecond` bytes of body
    /// received, so a large upload on a slow link finishes while a client that dribbles is cut off.
    var body: TimeAmount
    var bodyBytesPerSecond: Int
}

extension ChatConfig.HTTP {
    var timeouts: HTTPTimeouts {
        HTTPTimeouts(
            idle: .seconds(Int64(idleTimeoutSeconds)), head: .seconds(Int64(requestHeadTimeoutSeconds)),
            body: .seconds(Int64(requestBodyTimeoutSeconds)), bodyBytesPerSecond: requestBodyMinBytesPerSecond)
    }
}

/// Where an HTTP connection is in its exchange, and so by when it must have made progress: the slow-client rules
/// (slowloris on the head, a dribbled body, a socket opened and left idle, a response never read) as one value
/// that the connection's handler feeds and asks. It does no I/O and reads no clock.
struct HTTPConnectionClock {
    enum Phase: Equatable {
        /// No request in progress since `since`.
        case idle(since: NIODeadline)
        /// Part of a request head has arrived, the first byte at `since`.
        case head(since: NIODeadline)
        /// The head is in; `bytes` of its body have arrived since `since`.
        case body(since: NIODeadline, bytes: Int)
        /// The request is complete and the server is answering. No deadline: the server's own time is not the
        /// client's fault, except a response the client does not read (`stalledSince`).
        case responding(stalledSince: NIODeadline?)
    }

    /// What the connection does once a deadline has passed.
    enum Expiry: Equatable {
        /// Between requests: close without a word.
        case close
        /// A request did not arrive in time: answer 408 (when no response has begun) and close.
        case requestTimeout
    }

    private(set) var phase: Phase
    /// Requests whose head has arrived and whose response has not ended: more than one when a client pipelines.
    private(set) var unanswered = 0
    /// Bytes of a next request arrived while the previous one was being answered (a pipelining client).
    private var nextRequestStartedAt: NIODeadline?
    private let timeouts: HTTPTimeouts

    init(timeouts: HTTPTimeouts, openedAt: NIODeadline) {
        self.timeouts = timeouts
        phase = .idle(since: openedAt)
    }

    /// Bytes arrived from the client (before they are parsed).
    mutating func bytesArrived(at now: NIODeadline) {
        switch phase {
        case .idle: phase = .head(since: now)
        case .responding: if nextRequestStartedAt == nil { nextRequestStartedAt = now }
        case .head, .body: break
        }
    }

    mutating func headReceived(at now: NIODeadline) {
        unanswered += 1
        nextRequestStartedAt = nil
        phase = .body(since: now, bytes: 0)
    }

    mutating func bodyReceived(bytes: Int) {
        guard case .body(let since, let received) = phase else { return }
        phase = .body(since: since, bytes: received + bytes)
    }

    mutating func requestEnded() {
        phase = .responding(stalledSince: nil)
    }

    /// The last part of a response was written: the connection waits for the next request, unless one is in
    /// already (pipelined) and arriving or being answered.
    mutating func responseEnded(at now: NIODeadline) {
        unanswered = max(0, unanswered - 1)
        guard case .responding = phase, unanswered == 0 else { return }
        if let started = nextRequestStartedAt {
            phase = .head(since: started)
        } else {
            phase = .idle(since: now)
        }
        nextRequestStartedAt = nil
    }

    /// The socket stopped (or started again) taking what the server writes.
    mutating func writabilityChanged(writable: Bool, at now: NIODeadline) {
        guard case .responding = phase else { return }
        phase = .responding(stalledSince: writable ? nil : now)
    }

    /// When the connection must next have made progress; nil while the server is answering.
    var deadline: NIODeadline? {
        switch phase {
        case .idle(let since): since + timeouts.idle
        case .head(let since): since + timeouts.head
        case .body(let since, let bytes):
            since + timeouts.body + .seconds(Int64(bytes / max(timeouts.bodyBytesPerSecond, 1)))
        case .responding(let stalled): stalled.map { $0 + timeouts.idle }
        }
    }

    /// What to do at `now`: nil while the deadline (which may have moved since it was scheduled) is ahead.
    func expired(at now: NIODeadline) -> Expiry? {
        guard let deadline, now >= deadline else { return nil }
        switch phase {
        case .head, .body: return .requestTimeout
        case .idle, .responding: return .close
        }
    }
}
