import ChatCore
import Foundation
import GRDB
import GRDBSQLite
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SQLite's WAL hook on the writer's connection: after every commit, tells the shipper the log's salts, its frame
/// count and the time. Installing it replaces SQLite's automatic checkpoint on that connection, which is what
/// shipping needs (only the `Checkpointer` checkpoints, bounded by the shipped end).
final class WALHook: @unchecked Sendable {
    let shipper: WALShipper
    /// The log file, opened on the first commit; touched only on the writer's thread.
    private var descriptor: Int32 = -1
    /// Work to run once, right after the next commit: on the writer's thread, before any other write can begin, so
    /// it sees the database exactly as that commit left it (the `Checkpointer` opens its pin there).
    private let afterNextCommit = Mutex<(@Sendable () -> Void)?>(nil)

    init(shipper: WALShipper) {
        self.shipper = shipper
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    func install(on db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, walHookCallback, Unmanaged.passUnretained(self).toOpaque())
    }

    func committed(frameCount: Int32) {
        if descriptor < 0 { descriptor = open(shipper.walPath, O_RDONLY | O_CLOEXEC) }
        var header = [UInt8](repeating: 0, count: 24)
        let got = header.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, 24, 0) }
        guard got == 24 else { return }
        let salt = WALSalt(first: header.bigEndianUInt32(at: 16), second: header.bigEndianUInt32(at: 20))
        shipper.committed(salt: salt, frameCount: Int(frameCount), at: Clock.nowMillis())
        if let work = afterNextCommit.withLock({ work in defer { work = nil }; return work }) { work() }
    }

    /// Runs `work` right after the next commit (see `afterNextCommit`), replacing any work not yet run.
    func runAfterNextCommit(_ work: @escaping @Sendable () -> Void) {
        afterNextCommit.withLock { $0 = work }
    }

    /// Takes back work that has not run yet; false when a commit has already started running it.
    func cancelAfterNextCommit() -> Bool {
        afterNextCommit.withLock { work in
            defer { work = nil }
            return work != nil
        }
    }
}

private let walHookCallback: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<CChar>?, Int32)
    -> Int32 = { context, _, _, frames in
        if let context { Unmanaged<WALHook>.fromOpaque(context).takeUnretainedValue().committed(frameCount: frames) }
        return SQLITE_OK
    }
