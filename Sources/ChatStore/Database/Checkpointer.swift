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
final class Checkpointer: Sendable {
    /// WAL pages at which the writer checkpoints by itself, should this checkpointer fall behind.
    static let writerBackstopPages = 10_000

    private let connection: DatabaseQueue
    /// Held in a mutex only to make the class Sendable; it is touched in init and stop.
    private let timer: Mutex<(any DispatchSourceTimer)?>
    private let stopped = Atomic<Bool>(false)
    private let queue: DispatchQueue

    init(path: String, configuration: Configuration, interval: DispatchTimeInterval = .milliseconds(200)) throws {
        var configuration = configuration
        configuration.label = "chatd.checkpointer"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        queue = DispatchQueue(label: "chatd.store.checkpointer", qos: .utility)
        let source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(50))
        let connection = connection
        source.setEventHandler {
            // A busy or failed passive checkpoint is retried at the next tick; nothing is lost by skipping one.
            _ = try? connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
        }
        source.resume()
        timer = Mutex(source)
    }

    /// A full checkpoint that also truncates the WAL, on this connection so it never races the periodic one.
    /// It waits (busy timeout) for readers on older snapshots and for the writer.
    func truncate() async throws {
        try await connection.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    func stop() throws {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        timer.withLock { $0?.cancel() }
        // Let a tick that is running finish before the connection closes.
        queue.sync {}
        try connection.close()
    }
}
