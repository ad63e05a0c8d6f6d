import ChatCore
import GRDB

/// Daily usage on SQLite: one row per day (`usage_days`) and one per user active that day (`usage_users`).
public struct SQLiteUsage: UsageRepository {
    let database: StoreDatabase

    public func record(_ deltas: [UsageDelta], disk: DiskSample?, sampleDay: String) async throws {
        try await database.write { context in
            let db = context.db
            let add = try db.cachedStatement(
                sql: """
                    INSERT INTO usage_days (day, messages, uploads, sessions, session_seconds, egress_bytes)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (day) DO UPDATE SET messages = messages + excluded.messages,
                        uploads = uploads + excluded.uploads, sessions = sessions + excluded.sessions,
                        session_seconds = session_seconds + excluded.session_seconds,
                        egress_bytes = egress_bytes + excluded.egress_bytes
                    """)
            let user = try db.cachedStatement(sql: "INSERT OR IGNORE INTO usage_users (day, user_id) VALUES (?, ?)")
            for delta in deltas {
                let counts = delta.counts
                try add.execute(arguments: [
                    delta.day, counts.messages, counts.uploads, counts.sessions, counts.sessionSeconds,
                    counts.egressBytes,
                ])
                for id in delta.users { try user.execute(arguments: [delta.day, id]) }
            }
            guard let disk else { return }
            try db.execute(
                sql: """
                    INSERT INTO usage_days (day, first_sample_at, first_disk_used, last_sample_at, last_disk_used)
                    VALUES (?1, ?2, ?3, ?2, ?3)
                    ON CONFLICT (day) DO UPDATE SET
                        first_sample_at = COALESCE(first_sample_at, excluded.first_sample_at),
                        first_disk_used = COALESCE(first_disk_used, excluded.first_disk_used),
                        last_sample_at = excluded.last_sample_at, last_disk_used = excluded.last_disk_used
                    """, arguments: [sampleDay, disk.at, disk.usedBytes])
        }
    }

    public func days(from first: String, through last: String) async throws -> [UsageDay] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT d.day, (SELECT count(*) FROM usage_users u WHERE u.day = d.day), d.messages, d.uploads,
                        d.sessions, d.session_seconds, d.egress_bytes, d.first_sample_at, d.first_disk_used,
                        d.last_sample_at, d.last_disk_used
                    FROM usage_days d WHERE d.day BETWEEN ? AND ? ORDER BY d.day
                    """, arguments: [first, last]
            ).map { row in
                func sample(_ at: Int, _ used: Int) -> DiskSample? {
                    guard let time = row[at] as Millis?, let bytes = row[used] as Int64? else { return nil }
                    return DiskSample(at: time, usedBytes: bytes)
                }
                return UsageDay(
                    day: row[0], activeUsers: row[1],
                    counts: UsageCounts(
                        messages: row[2], uploads: row[3], sessions: row[4], sessionSeconds: row[5], egressBytes: row[6]),
                    firstDisk: sample(7, 8), lastDisk: sample(9, 10))
            }
        }
    }
}
