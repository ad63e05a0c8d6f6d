import ChatCore
import GRDB

/// The job queue on SQLite, in the store's database: a change's jobs commit in its transaction (`WriteContext`), and
/// leases, completions and failures go through the same group-committing writer, so they share the fsync of
/// whatever else is being written.
public struct SQLiteJobs: JobRepository {
    let database: StoreDatabase

    static func insert(_ db: Database, _ job: Job, now: Millis) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO jobs (kind, queue, key, payload, available_at, created_at) VALUES (?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [job.kind, job.queue, job.key, job.payload, job.runAt ?? now, now])
    }

    public func enqueue(_ jobs: [Job]) async throws {
        guard !jobs.isEmpty else { return }
        try await database.write { context in
            let now = Clock.nowMillis()
            for job in jobs { try context.enqueue(job, at: now) }
        }
    }

    public func lease(queue: String, limit: Int, now: Millis, leaseUntil: Millis, maxAttempts: Int) async throws
        -> LeaseBatch
    {
        try await database.write { context in
            let db = context.db
            // A lease that ran out after the last attempt means the worker died during it, maybe because of this
            // job (an image that crashes the process): it is not run again but handed back to be buried.
            let exhausted = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT \(Self.leasedColumns) FROM jobs
                        WHERE queue = ?1 AND state = 'running' AND available_at <= ?2 AND attempts >= ?3
                        """), arguments: [queue, now, maxAttempts]
            ).map(Self.leasedJob)
            var leased: [LeasedJob] = []
            if limit > 0 {
                leased = try Row.fetchAll(
                    db.cachedStatement(
                        sql: """
                            UPDATE jobs SET state = 'running', attempts = attempts + 1, available_at = ?3
                            WHERE id IN (
                                SELECT j.id FROM jobs j
                                WHERE j.queue = ?1 AND j.state <> 'dead' AND j.available_at <= ?2 AND j.attempts < ?5
                                  AND (j.key IS NULL OR NOT EXISTS (
                                      SELECT 1 FROM jobs e WHERE e.key = j.key AND e.id < j.id AND e.state <> 'dead'))
                                ORDER BY j.available_at, j.id LIMIT ?4)
                            RETURNING \(Self.leasedColumns)
                            """), arguments: [queue, now, leaseUntil, limit, maxAttempts]
                ).map(Self.leasedJob).sorted { $0.id < $1.id }
            }
            let nextDueAt = try Millis.fetchOne(
                db.cachedStatement(sql: "SELECT MIN(available_at) FROM jobs WHERE queue = ? AND state <> 'dead'"),
                arguments: [queue])
            return LeaseBatch(jobs: leased, exhausted: exhausted, nextDueAt: nextDueAt)
        }
    }

    public func complete(_ lease: JobLease) async throws -> Bool {
        try await database.write { context in
            try Self.complete(context.db, lease)
        }
    }

    /// Removes a leased job, inside a write that records its effect: the effect and the end of the job commit
    /// together, so a job whose effect is durable never runs again.
    static func complete(_ db: Database, _ lease: JobLease) throws -> Bool {
        try db.cachedStatement(sql: "DELETE FROM jobs WHERE id = ? AND attempts = ? AND state = 'running'")
            .execute(arguments: [lease.jobId, lease.attempt])
        return db.changesCount > 0
    }

    public func fail(_ lease: JobLease, error: String, retryAt: Millis?) async throws -> Bool {
        try await database.write { context in
            let db = context.db
            try db.cachedStatement(
                sql: """
                    UPDATE jobs SET state = ?, available_at = COALESCE(?, available_at), last_error = ?
                    WHERE id = ? AND attempts = ? AND state = 'running'
                    """
            ).execute(arguments: [
                retryAt == nil ? "dead" : "ready", retryAt, String(error.prefix(2000)), lease.jobId, lease.attempt,
            ])
            return db.changesCount > 0
        }
    }

    public func releaseLeases(now: Millis) async throws -> Int {
        try await database.write { context in
            try context.db.execute(
                sql: "UPDATE jobs SET available_at = ? WHERE state = 'running' AND available_at > ?",
                arguments: [now, now])
            return context.db.changesCount
        }
    }

    public func jobs(queue: String?, state: JobState?, limit: Int) async throws -> [JobRecord] {
        try await database.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let queue {
                conditions.append("queue = ?")
                arguments += [queue]
            }
            if let state {
                conditions.append("state = ?")
                arguments += [state.rawValue]
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            arguments += [limit]
            return try Row.fetchAll(
                db, sql: "SELECT \(Self.recordColumns) FROM jobs \(filter) ORDER BY id LIMIT ?", arguments: arguments
            ).map(Self.record)
        }
    }

    public func job(_ id: Int64) async throws -> JobRecord? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.recordColumns) FROM jobs WHERE id = ?", arguments: [id])
                .map(Self.record)
        }
    }

    public func retry(_ id: Int64, now: Millis) async throws -> Bool {
        try await database.write { context in
            guard
                let row = try Row.fetchOne(
                    context.db,
                    sql: """
                        UPDATE jobs SET attempts = CASE state WHEN 'dead' THEN 0 ELSE attempts END,
                            state = 'ready', available_at = ?
                        WHERE id = ? AND (state = 'dead' OR (state = 'ready' AND available_at > ?))
                        RETURNING kind, queue, key, payload
                        """, arguments: [now, id, now])
            else { return false }
            context.announce(Job(kind: row[0], queue: row[1], key: row[2], payload: row[3]))
            return true
        }
    }

    public func purgeDead(queue: String?) async throws -> Int {
        try await database.write { context in
            if let queue {
                try context.db.execute(sql: "DELETE FROM jobs WHERE state = 'dead' AND queue = ?", arguments: [queue])
            } else {
                try context.db.execute(sql: "DELETE FROM jobs WHERE state = 'dead'")
            }
            return context.db.changesCount
        }
    }

    public func setPaused(_ paused: Bool, queue: String) async throws {
        try await database.write { context in
            try context.db.execute(
                sql: """
                    INSERT INTO job_queues (queue, paused) VALUES (?, ?)
                    ON CONFLICT (queue) DO UPDATE SET paused = excluded.paused
                    """, arguments: [queue, paused])
        }
    }

    public func pausedQueues() async throws -> Set<String> {
        try await database.read { db in
            Set(try String.fetchAll(db, sql: "SELECT queue FROM job_queues WHERE paused"))
        }
    }

    public func depths(now: Millis) async throws -> [QueueDepth] {
        try await database.read { db in
            var depths: [String: QueueDepth] = [:]
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT queue,
                        SUM(state = 'ready' AND available_at <= ?1), SUM(state = 'ready' AND available_at > ?1),
                        SUM(state = 'running'), SUM(state = 'dead'),
                        MIN(CASE WHEN state = 'ready' AND available_at <= ?1 THEN available_at END)
                    FROM jobs GROUP BY queue
                    """, arguments: [now])
            for row in rows {
                let queue: String = row[0]
                let oldest: Millis? = row[5]
                depths[queue] = QueueDepth(
                    queue: queue, ready: row[1], delayed: row[2], running: row[3], dead: row[4],
                    oldestReadyAgeMillis: oldest.map { max(0, now - $0) } ?? 0)
            }
            for queue in try String.fetchAll(db, sql: "SELECT queue FROM job_queues WHERE paused") {
                depths[queue, default: QueueDepth(queue: queue)].paused = true
            }
            return depths.values.sorted { $0.queue < $1.queue }
        }
    }

    public func fireSchedule(
        name: String, spec: String, job: Job, now: Millis, nextAt: @Sendable (Millis) -> Millis
    ) async throws -> Bool {
        let next = nextAt(now)
        let fired: Bool = try await database.write { context in
            let db = context.db
            let row = try Row.fetchOne(
                db, sql: "SELECT spec, next_at FROM job_schedules WHERE name = ?", arguments: [name])
            let due: Bool
            if let row, row["spec"] as String == spec {
                due = (row["next_at"] as Millis) <= now
                guard due else { return false }
            } else {
                due = false
            }
            try db.execute(
                sql: """
                    INSERT INTO job_schedules (name, spec, next_at, last_fired_at) VALUES (?1, ?2, ?3, ?4)
                    ON CONFLICT (name) DO UPDATE SET spec = ?2, next_at = ?3,
                        last_fired_at = COALESCE(?4, last_fired_at)
                    """, arguments: [name, spec, next, due ? now : nil])
            if due { try context.enqueue(job, at: now) }
            return due
        }
        return fired
    }

    // MARK: Rows

    private static let leasedColumns = "id, attempts, kind, queue, key, payload, created_at"

    private static func leasedJob(_ row: Row) -> LeasedJob {
        LeasedJob(
            lease: JobLease(jobId: row[0], attempt: row[1]), kind: row[2], queue: row[3], key: row[4],
            payload: row[5], enqueuedAt: row[6])
    }

    private static let recordColumns =
        "id, kind, queue, key, payload, state, attempts, available_at, created_at, last_error"

    private static func record(_ row: Row) -> JobRecord {
        JobRecord(
            id: row[0], kind: row[1], queue: row[2], key: row[3], payload: row[4],
            state: JobState(rawValue: row[5]) ?? .dead, attempts: row[6], availableAt: row[7], createdAt: row[8],
            lastError: row[9])
    }
}
