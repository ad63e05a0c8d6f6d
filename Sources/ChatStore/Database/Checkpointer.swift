import ChatCore
import Dispatch
import GRDB
import Synchronization

/// Copies committed pages from the WAL back into the database file, on its own connection and thread, so the
/// writer never pays for it inside a `COMMIT`.
///
/// SQLite's default is an automatic checkpoint every 1,000 WAL pages, run by whichever connection commits — here the
/// single writer, which then stalls every waiting send. Measured with `chatbench store`: a send touches pages all over
/// the indexes, so a batch of 60 sends writes about 200 pages, and the writer checkpointed every fifth commit.
/// This connection only checkpoints (PASSIVE: it never blocks the writer or readers); the writer keeps a far
/// higher automatic threshold only as a backstop.
///
/// With WAL shipping, a checkpoint must never copy a frame that is not shipped yet: once every frame is copied, the
/// next write resets the log over them. The tick ships every `every`; once the log has grown by `framesPerCheckpoint`
/// it ships, then, between two group commits (a writer barrier, as long as shipping the last few commits takes),
/// ships the rest and opens a read transaction on `pin`. SQLite's checkpoint never copies past the snapshot of an
/// open reader, so the passive checkpoint that follows — while the sends go on — stops at the shipped end. A last
/// short barrier ships and copies what was written meanwhile, so the log can start over.
final class Checkpointer: Sendable {
    enum Mode: Sendable {
        case periodic
        case shipping(shipper: WALShipper, every: Duration, writer: GroupCommitWriter)
    }

    /// WAL pages at which the writer checkpoints by itself, should this checkpointer fall behind.
    static let writerBackstopPages = 10_000
    /// With shipping: log growth (pages) after which the next tick checkpoints (about 16 MB of 4 KiB pages).
    static let framesPerCheckpoint = 4_000

    private let connection: DatabaseQueue
    /// With shipping: the connection whose read transaction bounds a checkpoint (see above).
    private let pin: DatabaseQueue?
    private let mode: Mode
    /// Held in a mutex only to make the class Sendable; it is touched in init and stop.
    private let timer: Mutex<(any DispatchSourceTimer)?>
    private let stopped = Atomic<Bool>(false)
    private let queue: DispatchQueue
    /// With shipping: the position of the last checkpoint, the time of the last shipment.
    private let shippingState = Mutex<(checkpointedAt: WALShipper.Position?, shippedAt: ContinuousClock.Instant)>(
        (nil, .now))

    init(
        path: String, configuration: Configuration, mode: Mode, interval: DispatchTimeInterval = .milliseconds(200)
    ) throws {
        var configuration = configuration
        configuration.label = "chatd.checkpointer"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        if case .shipping = mode {
            configuration.label = "chatd.checkpoint-pin"
            // The pin's transaction stays open across two calls on purpose.
            configuration.allowsUnsafeTransactions = true
            pin = try DatabaseQueue(path: path, configuration: configuration)
        } else {
            pin = nil
        }
        self.mode = mode
        queue = DispatchQueue(label: "chatd.store.checkpointer", qos: .utility)
        timer = Mutex(DispatchSource.makeTimerSource(queue: queue))
        timer.withLock { source in
            source?.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(50))
            source?.setEventHandler { [weak self] in self?.tick() }
            source?.resume()
        }
    }

    private func tick() {
        switch mode {
        case .periodic:
            // A busy or failed passive checkpoint is retried at the next tick; nothing is lost by skipping one.
            _ = try? connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
        case .shipping(let shipper, let every, _):
            let committed = shipper.committedPosition
            let (checkpointedAt, shippedAt) = shippingState.withLock { $0 }
            let grown =
                // Frames since the last checkpoint (all of them once the log started over).
                committed.frame - (checkpointedAt.map { $0.generation == committed.generation ? $0.frame : 0 } ?? 0)
                >= Self.framesPerCheckpoint
            if grown {
                _ = try? checkpointAndShipBlocking()
            } else if shippedAt.duration(to: .now) >= every {
                _ = try? shipper.ship()
                shippingState.withLock { $0.shippedAt = .now }
            }
        }
    }

    /// Ships everything, then checkpoints up to the shipped end while the writer goes on, then lets the log start
    /// over; on the tick's thread.
    private func checkpointAndShipBlocking() throws {
        guard case .shipping(let shipper, _, let writer) = mode, let pin else { return }
        // The bulk while sends go on; then, between two group commits, the last few commits and the snapshot.
        try shipper.ship()
        try Self.betweenCommits(writer) {
            try shipper.ship()
            try pin.inDatabase { db in
                // A rollback that failed last time must not leave the old snapshot in place.
                if db.isInsideTransaction { try db.execute(sql: "ROLLBACK") }
                try db.execute(sql: "BEGIN DEFERRED TRANSACTION")
                // A read takes the snapshot: the log's end, which is now the shipped end.
                _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master")
            }
        }
        do {
            try connection.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
            try pin.inDatabase { db in try db.execute(sql: "ROLLBACK") }
        } catch {
            try? pin.inDatabase { db in try db.execute(sql: "ROLLBACK") }
            throw error
        }
        // A checkpoint beside the writer never catches up with it, and SQLite only starts the log over once every
        // frame is copied: between two group commits, ship and copy the few frames written meanwhile, so the next
        // write resets the log instead of growing it for as long as the load lasts.
        try Self.betweenCommits(writer) {
            try shipper.ship()
            try self.connection.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
        }
        shippingState.withLock { $0 = (shipper.shippedPosition, .now) }
    }

    /// Runs `work` in a writer barrier and waits for it (on this checkpointer's thread).
    private static func betweenCommits(_ writer: GroupCommitWriter, _ work: @escaping @Sendable () throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        writer.enqueueBarrier {
            outcome.withLock { $0 = Result { try work() } }
            done.signal()
        }
        done.wait()
        try outcome.withLock { $0! }.get()
    }

    /// A full checkpoint that also truncates the WAL, on this connection so it never races the periodic one.
    /// It waits (busy timeout) for readers on older snapshots and for the writer. With shipping, a shipment and a
    /// passive checkpoint bounded by the shipped end instead.
    func truncate() async throws {
        if case .shipping = mode {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                queue.async { continuation.resume(with: Result { try self.checkpointAndShipBlocking() }) }
            }
            return
        }
        try await connection.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    func stop() throws {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        timer.withLock { $0?.cancel() }
        // Let a tick that is running finish before the connection closes.
        queue.sync {}
        try connection.close()
        try pin?.close()
    }
}
