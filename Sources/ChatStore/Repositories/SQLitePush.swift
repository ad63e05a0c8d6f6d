import ChatCore
import Foundation
import GRDB

/// Push targets on SQLite, users' push settings, and what the notify jobs read and write.
public struct SQLitePush: PushRepository {
    let database: StoreDatabase
    /// Targets a user may hold without a session (tokens of the app's backend): the oldest go beyond this.
    static let maxSessionlessTargets = 20

    public func register(_ registration: PushTargetRegistration, user: UserID, session: SessionID?, now: Millis)
        async throws -> PushTarget
    {
        try await database.write { context in
            let db = context.db
            // The token moves to this device; the device's earlier target gives way to it.
            try db.execute(
                sql: "DELETE FROM push_targets WHERE platform = ? AND token = ?",
                arguments: [registration.platform.rawValue, registration.token])
            if let session {
                try db.execute(sql: "DELETE FROM push_targets WHERE session_id = ?", arguments: [session])
            }
            // Only while the session lasts: a registration that loses the race with its logout adds nothing the
            // session's trigger would not remove.
            try db.execute(
                sql: """
                    INSERT INTO push_targets (user_id, session_id, platform, token, topic, sandbox, p256dh, auth, created_at)
                    SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?
                    WHERE ? IS NULL OR EXISTS (SELECT 1 FROM sessions WHERE id = ? AND revoked_at IS NULL)
                    """,
                arguments: [
                    user, session, registration.platform.rawValue, registration.token, registration.topic,
                    registration.sandbox, registration.p256dh, registration.auth, now, session, session,
                ])
            guard db.changesCount == 1 else { throw ChatError.unauthorized }
            let id = db.lastInsertedRowID
            if session == nil {
                try db.execute(
                    sql: """
                        DELETE FROM push_targets WHERE id IN (
                            SELECT id FROM push_targets WHERE user_id = ? AND session_id IS NULL
                            ORDER BY id DESC LIMIT -1 OFFSET ?)
                        """, arguments: [user, Self.maxSessionlessTargets])
            }
            return PushTarget(
                id: id, userId: user, sessionId: session, platform: registration.platform, token: registration.token,
                topic: registration.topic, sandbox: registration.sandbox, p256dh: registration.p256dh,
                auth: registration.auth, createdAt: now)
        }
    }

    public func targets(of user: UserID) async throws -> [PushTarget] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.columns) FROM push_targets WHERE user_id = ? ORDER BY id", arguments: [user])
                .compactMap(Self.target)
        }
    }

    public func targets(ids: [Int64]) async throws -> [PushTarget] {
        guard !ids.isEmpty else { return [] }
        return try await database.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(Self.columns) FROM push_targets WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ","))) ORDER BY id",
                arguments: StatementArguments(ids)
            ).compactMap(Self.target)
        }
    }

    public func remove(target: Int64, user: UserID) async throws -> Bool {
        try await database.write { context in
            try context.db.execute(
                sql: "DELETE FROM push_targets WHERE id = ? AND user_id = ?", arguments: [target, user])
            return context.db.changesCount > 0
        }
    }

    public func removeTarget(session: SessionID) async throws -> Bool {
        try await database.write { context in
            try context.db.execute(sql: "DELETE FROM push_targets WHERE session_id = ?", arguments: [session])
            return context.db.changesCount > 0
        }
    }

    public func settings(of user: UserID) async throws -> PushSettings {
        try await database.read { db in
            guard let breaks = try Bool.fetchOne(db, sql: "SELECT mentions_break_mute FROM users WHERE id = ?", arguments: [user])
            else { throw ChatError.notFound("user") }
            return PushSettings(mentionsBreakMute: breaks)
        }
    }

    public func setSettings(_ settings: PushSettings, user: UserID) async throws {
        try await database.write { context in
            try context.db.execute(
                sql: "UPDATE users SET mentions_break_mute = ? WHERE id = ?", arguments: [settings.mentionsBreakMute, user])
        }
    }

    public func audiences(of messages: [MessageID], connected: @escaping @Sendable ([UserID]) -> Set<UserID>)
        async throws -> [MessageID: PushAudienceInput]
    {
        try await database.read { db in
            var inputs: [MessageID: PushAudienceInput] = [:]
            for message in messages where inputs[message] == nil {
                inputs[message] = try Self.audience(db, message: message, connected: connected)
            }
            return inputs
        }
    }

    static func audience(_ db: Database, message: MessageID, connected: @Sendable ([UserID]) -> Set<UserID>) throws
        -> PushAudienceInput?
    {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT m.conversation_id, m.seq, m.sender_id, m.body, m.attachments, c.kind, c.title,
                               u.display_name
                        FROM messages m JOIN conversations c ON c.id = m.conversation_id
                        JOIN users u ON u.id = m.sender_id
                        WHERE m.id = ? AND m.deleted_at IS NULL
                        """), arguments: [message])
        else { return nil }
        let conversation: ConversationID = row[0]
        let seq: Seq = row[1]
        let sender: UserID = row[2]
        let attachments: String? = row[4]
        let pushMessage = PushMessage(
            conversationId: conversation, messageId: message, seq: seq, senderId: sender, senderName: row[7],
            isGroup: (row[5] as String) == "group", conversationTitle: row[6], text: (row[3] as String?) ?? "",
            attachmentKind: attachments.map {
                $0.contains("\"kind\":\"image\"") ? "image" : $0.contains("\"kind\":\"video\"") ? "video" : "file"
            })
        let members = try UserID.fetchAll(
            db.cachedStatement(sql: "SELECT user_id FROM members WHERE conversation_id = ? AND user_id <> ?"),
            arguments: [conversation, sender])
        let online = connected(members)
        let offline = members.filter { !online.contains($0) }
        guard !offline.isEmpty else { return PushAudienceInput(message: pushMessage, candidates: []) }
        // The offline members as one JSON array, so the statements stay cached whatever their number.
        let among = "[" + offline.map(String.init).joined(separator: ",") + "]"
        var targets: [UserID: [PushTarget]] = [:]
        for row in try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT \(Self.columns) FROM push_targets
                    WHERE user_id IN (SELECT value FROM json_each(?)) ORDER BY id
                    """), arguments: [among])
        {
            if let target = Self.target(row) { targets[target.userId, default: []].append(target) }
        }
        let candidates = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT mb.user_id, u.handle, mb.muted, u.mentions_break_mute,
                        EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = mb.user_id AND b.blocked_id = :sender),
                        EXISTS (
                            SELECT 1 FROM messages later
                            WHERE later.conversation_id = :conversation AND later.seq > :seq
                              AND later.sender_id <> mb.user_id AND later.deleted_at IS NULL
                              AND NOT EXISTS (
                                  SELECT 1 FROM blocks lb WHERE lb.blocker_id = mb.user_id AND lb.blocked_id = later.sender_id)),
                        (SELECT COALESCE(SUM(c.last_seq - mine.last_read_seq), 0)
                            FROM members mine JOIN conversations c ON c.id = mine.conversation_id
                            WHERE mine.user_id = mb.user_id AND c.last_seq > mine.last_read_seq)
                    FROM members mb JOIN users u ON u.id = mb.user_id
                    WHERE mb.conversation_id = :conversation AND mb.user_id IN (SELECT value FROM json_each(:among))
                      AND u.disabled_at IS NULL AND u.deleted_at IS NULL
                    ORDER BY mb.user_id
                    """), arguments: ["conversation": conversation, "among": among, "seq": seq, "sender": sender]
        ).map { row in
            let user: UserID = row[0]
            return PushCandidate(
                userId: user, handle: row[1], muted: row[2], settings: PushSettings(mentionsBreakMute: row[3]),
                blockedSender: row[4], superseded: row[5], unread: row[6], targets: targets[user] ?? [])
        }
        return PushAudienceInput(message: pushMessage, candidates: candidates)
    }

    public func fanOut(_ jobs: [PushFanOut]) async throws -> Set<JobLease> {
        try await database.write { context in
            let db = context.db
            let now = Clock.nowMillis()
            var ended = Set<JobLease>()
            for job in jobs {
                // A job whose lease ran out went to another attempt: that one records and enqueues, not this.
                guard try SQLiteJobs.complete(db, job.lease) else {
                    ended.insert(job.lease)
                    continue
                }
                try SQLiteNotifications.insert(job.notifications, db)
                for delivery in job.deliveries { try context.enqueue(delivery, at: now) }
            }
            return ended
        }
    }

    public func deletedMessages(among messages: [MessageID]) async throws -> Set<MessageID> {
        guard !messages.isEmpty else { return [] }
        let unique = Array(Set(messages))
        return try await database.read { db in
            let live = try MessageID.fetchSet(
                db,
                sql: """
                    SELECT id FROM messages WHERE deleted_at IS NULL
                    AND id IN (\(unique.map { _ in "?" }.joined(separator: ",")))
                    """, arguments: StatementArguments(unique))
            return Set(unique).subtracting(live)
        }
    }

    public func settle(removing targets: [Int64], retries: [Job], completing lease: JobLease) async throws {
        try await database.write { context in
            let db = context.db
            guard try SQLiteJobs.complete(db, lease) else { throw StoreError("the job's lease ended before it finished") }
            for id in targets {
                try db.execute(sql: "DELETE FROM push_targets WHERE id = ?", arguments: [id])
            }
            let now = Clock.nowMillis()
            for retry in retries { try context.enqueue(retry, at: now) }
        }
    }

    static let columns = "id, user_id, session_id, platform, token, topic, sandbox, p256dh, auth, created_at"

    static func target(_ row: Row) -> PushTarget? {
        guard let platform = PushPlatform(rawValue: row[3]) else { return nil }
        return PushTarget(
            id: row[0], userId: row[1], sessionId: row[2], platform: platform, token: row[4], topic: row[5],
            sandbox: row[6], p256dh: row[7], auth: row[8], createdAt: row[9])
    }
}
