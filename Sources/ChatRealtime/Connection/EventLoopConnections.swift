import ChatCore
import NIOCore

/// The connections of one event loop, and the two chores done for all of them at once:
/// - flushing: a connection written to asks for a flush, and one task queued behind the loop's current work
///   flushes every connection written to in the meantime — an ack, the sender's own copy of the event and a
///   burst of deliveries leave in one `writev`, once per tick, not once per frame;
/// - sweeping: one timer each second asks every session whether to ping, time out, ask for a fresh token or
///   drop a close that did not go out. One timer per loop, not one per connection.
final class EventLoopConnections: @unchecked Sendable {
    // @unchecked: the mutable state is only touched on `eventLoop` (every method hops there or is called from it).
    let eventLoop: any EventLoop
    private var connections: [ObjectIdentifier: WebSocketConnection] = [:]
    private var timer: RepeatedTask?
    /// Written to since the last flush; `spare` keeps the other array's storage between ticks.
    private var unflushed: [WebSocketConnection] = []
    private var spare: [WebSocketConnection] = []

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func add(_ connection: WebSocketConnection) {
        eventLoop.assertInEventLoop()
        connections[ObjectIdentifier(connection)] = connection
        if timer == nil {
            timer = eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] _ in
                self?.sweep()
            }
        }
    }

    func remove(_ connection: WebSocketConnection) {
        eventLoop.assertInEventLoop()
        connections[ObjectIdentifier(connection)] = nil
        if connections.isEmpty { connections = [:] }
    }

    func closeAll(_ reason: CloseReason) {
        eventLoop.execute {
            for connection in self.connections.values { connection.close(reason) }
        }
    }

    // MARK: Flushing

    /// Called by a connection the first time it writes after a flush.
    func flushSoon(_ connection: WebSocketConnection) {
        eventLoop.assertInEventLoop()
        unflushed.append(connection)
        if unflushed.count == 1 {
            eventLoop.execute { self.flushAll() }
        }
    }

    private func flushAll() {
        swap(&unflushed, &spare)
        for connection in spare { connection.flush() }
        spare.removeAll(keepingCapacity: spare.count <= 1024)
    }

    // MARK: Sweeping

    private func sweep() {
        let time = SessionTime.now()
        for connection in Array(connections.values) {
            connection.tick(at: time)
        }
    }
}
