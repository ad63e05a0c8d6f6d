import NIOCore

/// The frames a connection could not write yet, bounded in bytes: what keeps one slow client from holding memory
/// or slowing anyone else. It decides; the connection writes.
struct OutboundQueue {
    enum Kind: Equatable {
        /// A reply or a live event: must arrive, or the client must be told to resume.
        case durable
        /// Typing and presence: dropped first when the client falls behind.
        case ephemeral
        /// A replayed event: exempt from the limit, because a replay is read one page at a time and only while the
        /// socket drains, so it is bounded by the page.
        case replay
    }

    enum Decision: Equatable {
        /// The socket takes it now and nothing waits before it: write it.
        case write
        case queued
        /// An ephemeral frame that does not fit even after the other ephemeral ones went.
        case dropped
        /// A durable frame that does not fit: the client is too slow and must be closed (it resumes from its cursor).
        /// The queue is emptied.
        case overflow
    }

    /// Nil (no storage) while empty, which is nearly always.
    private var frames: CircularBuffer<(frame: ByteBuffer, kind: Kind)>?
    private(set) var bytes = 0

    var isEmpty: Bool { frames == nil }

    /// Decides what happens to a frame the connection wants to send. `writable` is whether the socket takes more
    /// now; `limit` is the most bytes that may wait.
    mutating func offer(_ frame: ByteBuffer, kind: Kind, writable: Bool, limit: Int) -> Decision {
        if frames == nil && writable { return .write }
        var queue = frames ?? CircularBuffer(initialCapacity: 16)
        frames = nil
        if kind != .replay, bytes + frame.readableBytes > limit {
            let before = queue.count
            queue.removeAll { $0.kind == .ephemeral }
            if queue.count != before { bytes = queue.reduce(0) { $0 + $1.frame.readableBytes } }
            if bytes + frame.readableBytes > limit {
                if kind == .ephemeral {
                    if !queue.isEmpty { frames = queue }
                    return .dropped
                }
                bytes = 0
                return .overflow
            }
        }
        queue.append((frame, kind))
        bytes += frame.readableBytes
        frames = queue
        return .queued
    }

    /// The next waiting frame, to write now that the socket takes more.
    mutating func next() -> ByteBuffer? {
        guard var queue = frames else { return nil }
        frames = nil  // so the pop below does not copy the storage
        guard let first = queue.popFirst() else { return nil }
        bytes -= first.frame.readableBytes
        frames = queue.isEmpty ? nil : queue
        return first.frame
    }

    mutating func removeAll() {
        frames = nil
        bytes = 0
    }
}
