import ChatCore
import GRDB

/// The transaction one write runs in: its database connection, and the events it appends and the jobs it enqueues,
/// kept so the writer publishes them after the commit — or drops them with the write when it fails. Lives on the
/// writer's queue only, within one write.
public final class WriteContext {
    let db: Database
    private(set) var events: [Event] = []
    private(set) var jobs: [Job] = []

    init(_ db: Database) {
        self.db = db
    }

    /// Appends an event row and returns the event with its cursor. `storedData` is what the row keeps (nil for
    /// message events, which read theirs from the message row); `wireData` what live clients get, when it differs.
    @discardableResult
    func append(
        _ type: EventType, conversationId: ConversationID?, audience: UserID? = nil, messageId: MessageID? = nil,
        storedData: String?, wireData: String? = nil, at: Millis
    ) throws -> Event {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO events (type, conversation_id, audience_user_id, message_id, data, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """)
        try statement.execute(arguments: [type.storageCode, conversationId, audience, messageId, storedData, at])
        let event = Event(
            cursor: db.lastInsertedRowID, type: type, conversationId: conversationId, audienceUserId: audience,
            at: at, data: wireData ?? storedData ?? "{}")
        events.append(event)
        return event
    }

    /// Enqueues a job with this write: its row commits with the write's changes or not at all, and the
    /// `JobPublisher` hears of it after the commit.
    func enqueue(_ job: Job, at now: Millis) throws {
        try SQLiteJobs.insert(db, job, now: now)
        jobs.append(job)
    }

    /// Tells the `JobPublisher`, after the commit, of a job this write made ready again.
    func announce(_ job: Job) {
        jobs.append(job)
    }
}
