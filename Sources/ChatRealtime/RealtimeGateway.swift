import ChatCore
import Logging
import NIOCore
import CChatd
import Synchronization

/// The realtime gateway: the hub, the backend the sessions call, the connections of each event loop and the connection
/// counts. `ChatServer` creates one, hands `publisher` to the store, installs `makeHandler` on every upgraded socket
/// and runs a `RealtimeHousekeeping` service.
public final class RealtimeGateway: Sendable {
    let hub: Hub<WebSocketConnection>
    public let limits: RealtimeLimits
    let backend: any RealtimeBackend
    let logger: Logger
    private let loops = Mutex<[ObjectIdentifier: EventLoopConnections]>([:])
    private let perIP = Mutex<[String: Int]>([:])
    private let open = Atomic<Int>(0)
    private let shuttingDown = Atomic<Bool>(false)
    /// Frames and fan-out times, for metrics.
    public let stats = RealtimeStats()

    public init(backend: any RealtimeBackend, limits: RealtimeLimits, logger: Logger) {
        self.backend = backend
        self.limits = limits
        self.logger = logger
        hub = Hub(limits: limits)
    }

    /// Where the store hands committed events: fanned out to this process's sockets.
    public var publisher: any EventPublisher { LocalFanout(hub: hub, stats: stats) }

    /// Where the account service reports ended sessions: their sockets close with 4401.
    public var revocations: any SessionRevocationPublisher { LocalFanout(hub: hub, stats: stats) }

    /// Of `users`, those connected to this process now (the others hear of a message by notification).
    public func connectedUsers(among users: [UserID]) -> Set<UserID> {
        hub.connected(among: users)
    }

    // MARK: Admission

    public enum Admission: Sendable {
        case admitted
        case tooManyFromAddress
        case shuttingDown
    }

    /// Counts a new socket from `ip` (checked before the upgrade), or refuses it. An admitted socket is counted until
    /// `release(ip:)`, which the caller ties to the channel's close, whether or not the upgrade completes.
    public func admit(ip: String) -> Admission {
        guard !shuttingDown.load(ordering: .relaxed) else { return .shuttingDown }
        return perIP.withLock { counts in
            let current = counts[ip, default: 0]
            guard current < limits.maxConnectionsPerIP else { return .tooManyFromAddress }
            counts[ip] = current + 1
            return .admitted
        }
    }

    public func release(ip: String) {
        perIP.withLock { counts in
            let left = counts[ip, default: 1] - 1
            counts[ip] = left > 0 ? left : nil
        }
    }

    /// The handler of a socket admitted with `admit(ip:)`; the gateway forgets the socket when it closes.
    public func makeHandler(eventLoop: any EventLoop) -> some ChannelHandler {
        WebSocketConnection(gateway: self, eventLoop: eventLoop)
    }

    func opened(_ connection: WebSocketConnection) {
        open.add(1, ordering: .relaxed)
        connection.loop.add(connection)
        if shuttingDown.load(ordering: .relaxed) { connection.close(.goingAway) }
    }

    func closed(_ connection: WebSocketConnection) {
        connection.loop.remove(connection)
        open.add(-1, ordering: .relaxed)
    }

    /// Open WebSocket connections, authenticated or not.
    public var openConnections: Int { open.load(ordering: .relaxed) }

    /// Shutting down: no new sockets, the open ones are being closed.
    public var isDraining: Bool { shuttingDown.load(ordering: .relaxed) }

    /// Users with at least one authenticated connection.
    public var usersOnline: Int { hub.usersOnline }

    /// The connections of `loop`, created the first time a socket lands on it.
    func connections(on loop: any EventLoop) -> EventLoopConnections {
        loops.withLock { loops in
            let key = ObjectIdentifier(loop)
            if let connections = loops[key] { return connections }
            let connections = EventLoopConnections(eventLoop: loop)
            loops[key] = connections
            return connections
        }
    }

    // MARK: Background work

    /// One round of the gateway's periodic work.
    func housekeeping() async {
        hub.sweep(now: Clock.nowMillis())
        await saveLastSeen()
        await releaseMemoryAfterDisconnects()
    }

    /// Connections at the last trim, and at the previous housekeeping round.
    private let countAtTrim = Atomic<Int>(0)
    private let countLastRound = Atomic<Int>(0)

    /// After a surge of connections settles, or after a mass disconnect (a network blip, a load spike ending), the
    /// allocator keeps the pages freed by all the short-lived work (handshakes, token checks, replays) or by the
    /// connections that left; give them back to the system, so RSS follows the load. After a disconnect the store's
    /// caches, grown with the load, are shrunk first.
    private func releaseMemoryAfterDisconnects() async {
        let current = openConnections
        let previous = countLastRound.exchange(current, ordering: .relaxed)
        let atTrim = countAtTrim.load(ordering: .relaxed)
        let settled = abs(current - previous) <= max(10, previous / 100)
        guard settled, abs(current - atTrim) >= 500 else { return }
        if current < atTrim / 2 {
            await backend.releaseMemory()
            // The store's caches are freed on its own queues; give them a moment before trimming the heap.
            try? await Task.sleep(for: .milliseconds(200))
        }
        _ = chatd_malloc_trim()
        countAtTrim.store(current, ordering: .relaxed)
    }

    /// Writes the last-seen times the hub recorded; on failure they wait for the next round.
    public func saveLastSeen() async {
        let times = hub.takeLastSeen()
        guard !times.isEmpty else { return }
        do {
            try await backend.saveLastSeen(times)
        } catch {
            hub.restoreLastSeen(times)
            logger.warning("could not save last-seen times", metadata: ["error": "\(error)"])
        }
    }

    /// Graceful shutdown: refuses new sockets, closes every open one with 1001 ("resume from your cursor") and
    /// waits up to `timeout` for them to go.
    public func closeAll(timeout: Duration = .seconds(5)) async {
        shuttingDown.store(true, ordering: .relaxed)
        for connections in loops.withLock({ Array($0.values) }) {
            connections.closeAll(.goingAway)
        }
        let deadline = ContinuousClock.now + timeout
        while openConnections > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        await saveLastSeen()
    }
}
