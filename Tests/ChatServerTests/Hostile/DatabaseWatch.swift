import ChatConfiguration
import Crypto
import Foundation
import GRDB

/// Reads the server's database from the side, the way an operator's `sqlite3` would: what every table holds (so a
/// refused request can be shown to have written nothing) and SQLite's own integrity check.
struct DatabaseWatch {
    let queue: DatabaseQueue

    init(_ config: ChatConfig) throws {
        var configuration = Configuration()
        configuration.readonly = true
        queue = try DatabaseQueue(
            path: config.storage.dataDirectory + "/db/chatd.sqlite", configuration: configuration)
    }

    /// A digest of every row of every table: equal digests, nothing written. Users' `last_seen_at` is left out: the
    /// hub writes it when a user's last socket closes, whatever the socket sent.
    func footprint() throws -> [String: String] {
        try queue.read { db in
            let tables = try String.fetchAll(
                db,
                sql: """
                    SELECT name FROM sqlite_master
                    WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'messages_fts%'
                    ORDER BY name
                    """)
            var digests: [String: String] = [:]
            for table in tables {
                var hash = SHA256()
                let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(\"\(table)\")")
                    .map { $0["name"] as String }
                    .filter { $0 != "last_seen_at" }
                    .map { "\"\($0)\"" }
                    .joined(separator: ", ")
                let rows = try Row.fetchCursor(db, sql: "SELECT \(columns) FROM \"\(table)\"")
                while let row = try rows.next() { hash.update(data: Data(row.description.utf8)) }
                digests[table] = hash.finalize().map { String($0, radix: 16) }.joined()
            }
            return digests
        }
    }

    /// Waits until the background work of what came before is done (the job queue is empty and the daily schedule
    /// is stored), so what follows can be shown to write nothing.
    func settled() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let quiet = try await queue.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs WHERE state <> 'dead'") == 0
                    && Int.fetchOne(db, sql: "SELECT COUNT(*) FROM job_schedules") ?? 0 > 0
            }
            if quiet { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw DatabaseError(message: "the job queue did not drain within 10 s")
    }

    /// `PRAGMA integrity_check`'s answer: "ok" for a sound file.
    func integrityCheck() throws -> String {
        try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }
}
