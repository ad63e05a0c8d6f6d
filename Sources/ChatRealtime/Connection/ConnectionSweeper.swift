import ChatCore
import NIOCore

/// The connections of one event loop and the one timer that looks after them: each second it asks every session
/// whether to ping, time out, ask for a fresh token or drop a close that did not go out. One timer per loop, not
/// one per connection.
final class ConnectionSweeper: @unchecked Sendable {
    // @unchecked: `connections` is only touched on `eventLoop` (every method hops there or is called from it).
    let eventLoop: any EventLoop
    private var connections: [ObjectIdentifier: WebSocketConnection] = [:]
    private var timer: RepeatedTask?

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

    private func sweep() {
        let now = NIODeadline.now()
        let nowMillis = Clock.nowMillis()
        for connection in Array(connections.values) {
            connection.tick(now: now, nowMillis: nowMillis)
        }
    }
}
