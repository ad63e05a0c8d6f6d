import ChatCore
import Dispatch
import GRDB
import Synchronization

/// With shipping: checkpoints done, and the time the writer spent held in their barriers (`chatbench backup`).
public struct CheckpointFigures: Sendable {
    public var checkpoints = 0
    public var barriers = 0
    public var barrierNanoseconds: UInt64 = 0
    public var longestBarrierNanoseconds: UInt64 = 0
    /// The latest checkpoints that copied anything (at most `keptCheckpoints`): when each began (uptime
    /// nanoseconds), how long it took, how many frames it copied.
    public var recent: [(at: UInt64, nanoseconds: UInt64, frames: Int)] = []
    static let keptCheckpoints = 256
    /// The log's frames and those copied, as the last checkpoint found them.
    var logFrames = 0
    var logCopied = 0

    public init() {}
}

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
/// it opens a read transaction on `pin` right after a commit (in the WAL hook, on the writer's thread, so nothing
/// waits), ships through that commit, and checkpoints while the sends go on: SQLite never copies past the snapshot of
/// an open reader, so the checkpoint stops at the shipped end. A checkpoint beside the writer never catches up with
/// it, and the log only starts over once every frame is copied; so it repeats on what was written meanwhile (less
/// each time) until little is left, and copies that last bit between two group commits (a writer barrier).
final class Checkpointer: Sendable {
    enum Mode: Sendable {
        case periodic
        case shipping(shipper: WALShipper, every: Duration, writer: GroupCommitWriter, hook: WALHook)
    }

    /// WAL pages at which the writer checkpoints by itself, should this checkpointer fall behind.
    static let writerBackstopPages = 10_000
    /// With shipping: log growth (pages) after which the next tick checkpoints (about 16 MB of 4 KiB pages).
    static let framesPerCheckpoint = 4_000
    /// With shipping: checkpoints beside the writer before the last one between two commits, and the frames written
    /// meanwhile that are few enough for that last one.
    static let roundsBesideWriter = 6
    static let tailFrames = 256

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
    private let figuresState = Mutex(CheckpointFigures())
    var figures: CheckpointFigures { figuresState.withLock { $0 } }
    /// Told of each checkpoint that copied anything: how long it took and how many pages it copied.
    let observer = ObserverSlot<(Duration, Int)>()

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
            // It opens in the writer's WAL hook: one that would wait fails this checkpoint instead of holding every
            // send behind it.
            configuration.busyMode = .immediateError
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
            try? passiveCheckpoint()
        case .shipping(let shipper, let every, _, _):
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

    /// Checkpoints up to a shipped commit while the writer goes on, until few frames are left, then copies those
    /// between two group commits so the log starts over; on the tick's thread.
    private func checkpointAndShipBlocking() throws {
        guard case .shipping(let shipper, _, let writer, let hook) = mode, let pin else { return }
        for _ in 0..<Self.roundsBesideWriter {
            let pinned: WALShipper.Position
            do {
                pinned = try pinAtNextCommit(hook: hook, writer: writer, shipper: shipper)
                // Ships through the pinned commit (and whatever followed it), then copies up to the pin.
                try shipper.ship()
                try passiveCheckpoint()
                try pin.inDatabase { db in try db.execute(sql: "ROLLBACK") }
            } catch {
                try? pin.inDatabase { db in try db.execute(sql: "ROLLBACK") }
                throw error
            }
            let now = shipper.committedPosition
            if now.generation != pinned.generation || now.frame - pinned.frame <= Self.tailFrames { break }
        }
        try betweenCommits(writer) {
            try shipper.ship()
            try self.passiveCheckpoint()
        }
        shippingState.withLock { $0 = (shipper.shippedPosition, .now) }
        figuresState.withLock { $0.checkpoints += 1 }
    }

    /// A passive checkpoint on this checkpointer's connection, recorded in `figures` when it copied anything.
    private func passiveCheckpoint() throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let (frames, copied) = try connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
        let end = DispatchTime.now().uptimeNanoseconds
        let pages = figuresState.withLock { figures in
            // SQLite answers the frames copied so far in this log; a smaller log is a new one.
            let before = frames >= figures.logFrames ? figures.logCopied : 0
            figures.logFrames = frames
            figures.logCopied = copied
            guard copied > before else { return 0 }
            figures.recent.append((start, end - start, copied - before))
            if figures.recent.count > CheckpointFigures.keptCheckpoints { figures.recent.removeFirst() }
            return copied - before
        }
        if pages > 0 { observer((.nanoseconds(end - start), pages)) }
    }

    /// Opens the pin's read transaction right after the next commit, so its snapshot is exactly what has committed,
    /// and returns that position. When no commit comes soon (few writes), between two group commits instead.
    private func pinAtNextCommit(hook: WALHook, writer: GroupCommitWriter, shipper: WALShipper) throws
        -> WALShipper.Position
    {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<WALShipper.Position, any Error>?>(nil)
        let open: @Sendable () -> Void = { [pin] in
            outcome.withLock { outcome in
                outcome = Result {
                    try pin?.inDatabase { db in
                        // A rollback that failed last time must not leave the old snapshot in place.
                        if db.isInsideTransaction { try db.execute(sql: "ROLLBACK") }
                        try db.execute(sql: "BEGIN DEFERRED TRANSACTION")
                        // A read takes the snapshot: the log's end.
                        _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master")
                    }
                    return shipper.committedPosition
                }
            }
            done.signal()
        }
        hook.runAfterNextCommit(open)
        if done.wait(timeout: .now() + .milliseconds(50)) == .timedOut {
            if hook.cancelAfterNextCommit() {
                try betweenCommits(writer) { open() }
            } else {
                done.wait()
            }
        }
        return try outcome.withLock { $0! }.get()
    }

    /// Runs `work` in a writer barrier and waits for it (on this checkpointer's thread).
    private func betweenCommits(_ writer: GroupCommitWriter, _ work: @escaping @Sendable () throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        let held = Atomic<UInt64>(0)
        writer.enqueueBarrier {
            let start = DispatchTime.now().uptimeNanoseconds
            outcome.withLock { $0 = Result { try work() } }
            held.store(DispatchTime.now().uptimeNanoseconds - start, ordering: .relaxed)
            done.signal()
        }
        done.wait()
        let nanoseconds = held.load(ordering: .relaxed)
        figuresState.withLock {
            $0.barriers += 1
            $0.barrierNanoseconds += nanoseconds
            $0.longestBarrierNanoseconds = max($0.longestBarrierNanoseconds, nanoseconds)
        }
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
