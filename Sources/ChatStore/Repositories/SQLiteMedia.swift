import ChatCore
import Foundation
import GRDB

/// Uploads, media and attachments on SQLite.
public struct SQLiteMedia: MediaRepository {
    let database: StoreDatabase

    public func createUpload(_ upload: Upload, quota: Int64) async throws {
        try await database.write { context in
            let db = context.db
            let used =
                try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT (SELECT COALESCE(SUM(size), 0) FROM media WHERE owner_id = ?1)
                             + (SELECT COALESCE(SUM(size), 0) FROM uploads WHERE owner_id = ?1 AND media_id IS NULL)
                        """, arguments: [upload.ownerId]) ?? 0
            guard used + upload.size <= quota else {
                throw ChatError(
                    .quotaExceeded,
                    "this upload of \(upload.size) bytes would take your media to \(used + upload.size) bytes; "
                        + "the quota is \(quota)")
            }
            try db.execute(
                sql: """
                    INSERT INTO uploads (id, owner_id, size, filename, declared_type, sha256, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    upload.id, upload.ownerId, upload.size, upload.filename, upload.declaredType, upload.sha256,
                    upload.createdAt, upload.expiresAt,
                ])
        }
    }

    public func upload(_ id: String) async throws -> Upload? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.uploadColumns) FROM uploads WHERE id = ?", arguments: [id])
                .map(Self.upload)
        }
    }

    public func completeUpload(_ id: String, kind: MediaKind, contentType: String, sha256: String, process: Job?)
        async throws -> Media
    {
        try await database.write { context in
            let db = context.db
            guard
                let upload = try Row.fetchOne(
                    db, sql: "SELECT \(Self.uploadColumns) FROM uploads WHERE id = ?", arguments: [id]
                ).map(Self.upload)
            else { throw ChatError.notFound("upload") }
            if let existing = upload.mediaId {
                guard let media = try Self.media(db, existing) else { throw ChatError.notFound("upload") }
                return media.media
            }
            let now = Clock.nowMillis()
            try db.execute(
                sql: """
                    INSERT INTO media (owner_id, upload_id, kind, content_type, filename, size, sha256, status, created_at,
                        unused_since)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    upload.ownerId, upload.id, kind.rawValue, contentType, upload.filename, upload.size, sha256,
                    process == nil ? MediaStatus.ready.rawValue : MediaStatus.processing.rawValue, now, now,
                ])
            let mediaId = db.lastInsertedRowID
            try db.execute(sql: "UPDATE uploads SET media_id = ? WHERE id = ?", arguments: [mediaId, id])
            if var process {
                process.payload = "{\"media_id\":\(mediaId)}"
                process.key = "media:\(mediaId)"
                try context.enqueue(process, at: now)
            }
            guard let media = try Self.media(db, mediaId) else { throw ChatError.notFound("media \(mediaId)") }
            return media.media
        }
    }

    public func media(_ id: Int64) async throws -> StoredMedia? {
        try await database.read { db in try Self.media(db, id) }
    }

    public func canRead(media: Int64, user: UserID) async throws -> Bool {
        try await database.read { db in
            try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM media WHERE id = ?1 AND owner_id = ?2)
                        OR EXISTS (
                            SELECT 1 FROM message_media mm
                            JOIN messages m ON m.id = mm.message_id AND m.deleted_at IS NULL
                            JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?2
                            WHERE mm.media_id = ?1)
                    """, arguments: [media, user]) ?? false
        }
    }

    public func recordProcessed(_ media: Int64, _ result: ProcessedMedia, completing lease: JobLease) async throws {
        try await database.write { context in
            let db = context.db
            let codecs = result.codecs.map { ChatJSON.string($0) }
            try db.execute(
                sql: """
                    UPDATE media SET status = 'ready', width = ?, height = ?, duration_ms = ?, blurhash = ?, codecs = ?,
                        display_type = ?, thumbnail_type = ?, error = NULL, processed_at = ?
                    WHERE id = ? AND status <> 'ready'
                    """,
                arguments: [
                    result.width, result.height, result.durationMs, result.blurhash, codecs, result.displayType,
                    result.thumbnailType, Clock.nowMillis(), media,
                ])
            if db.changesCount > 0 { try Self.announce(context, media: media, as: .mediaProcessed) }
            _ = try SQLiteJobs.complete(db, lease)
        }
    }

    public func recordFailed(_ media: Int64, error: String) async throws {
        try await database.write { context in
            try context.db.execute(
                sql: "UPDATE media SET status = 'failed', error = ? WHERE id = ? AND status = 'processing'",
                arguments: [String(error.prefix(500)), media])
            if context.db.changesCount > 0 { try Self.announce(context, media: media, as: .mediaFailed) }
        }
    }

    /// Brings the attachments of every message that carries the media up to date, and tells each conversation
    /// where it was shared (or, when it was not shared yet, its owner).
    static func announce(_ context: WriteContext, media id: Int64, as type: EventType) throws {
        let db = context.db
        guard let media = try Self.media(db, id)?.media else { return }
        let carriers = try Row.fetchAll(
            db,
            sql: """
                SELECT m.id, m.conversation_id, m.seq FROM message_media mm JOIN messages m ON m.id = mm.message_id
                WHERE mm.media_id = ? AND m.deleted_at IS NULL ORDER BY m.conversation_id, m.seq
                """, arguments: [id])
        var seqs: [ConversationID: [Seq]] = [:]
        for row in carriers {
            let message: MessageID = row[0]
            seqs[row[1], default: []].append(row[2])
            try db.execute(
                sql: "UPDATE messages SET attachments = ? WHERE id = ?",
                arguments: [try attachmentsJSON(db, message: message), message])
        }
        let now = Clock.nowMillis()
        if seqs.isEmpty {
            try context.append(
                type, conversationId: nil, audience: media.ownerId,
                storedData: ChatJSON.string(MediaEventData(media: media, seqs: nil)), at: now)
        }
        for (conversation, list) in seqs.sorted(by: { $0.key < $1.key }) {
            try context.append(
                type, conversationId: conversation,
                storedData: ChatJSON.string(MediaEventData(media: media, seqs: list)), at: now)
        }
    }

    /// The attachments of a message as clients see them, in the sender's order.
    static func attachmentsJSON(_ db: Database, message: MessageID) throws -> String? {
        let ids = try Int64.fetchAll(
            db, sql: "SELECT media_id FROM message_media WHERE message_id = ? ORDER BY position", arguments: [message])
        guard !ids.isEmpty else { return nil }
        return ChatJSON.string(try ids.compactMap { try media(db, $0)?.media })
    }

    /// Attaches the sender's media to a new message (inside the send's transaction): every id must be media the
    /// sender owns. Returns the attachments, or nil for none.
    static func attach(_ db: Database, media ids: [Int64], sender: UserID) throws -> [Media]? {
        guard !ids.isEmpty else { return nil }
        var list: [Media] = []
        for id in ids {
            guard let media = try Self.media(db, id)?.media, media.ownerId == sender else {
                throw ChatError.notFound("media \(id)")
            }
            list.append(media)
        }
        return list
    }

    public func abandonedUploads(before: Millis, limit: Int) async throws -> [Upload] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.uploadColumns) FROM uploads WHERE media_id IS NULL AND expires_at < ?
                    ORDER BY expires_at LIMIT ?
                    """, arguments: [before, limit]
            ).map(Self.upload)
        }
    }

    public func deleteUpload(_ id: String) async throws {
        try await database.write { context in
            try context.db.execute(sql: "DELETE FROM uploads WHERE id = ?", arguments: [id])
        }
    }

    public func unusedMedia(before: Millis, limit: Int) async throws -> [StoredMedia] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.mediaColumns) FROM media WHERE unused_since IS NOT NULL AND unused_since < ?
                    ORDER BY unused_since LIMIT ?
                    """, arguments: [before, limit]
            ).map(Self.storedMedia)
        }
    }

    public func deleteMedia(_ ids: [Int64]) async throws -> [StoredMedia] {
        guard !ids.isEmpty else { return [] }
        return try await database.write { context in
            let db = context.db
            // Only media still unused: a message may have carried it again since it was listed.
            var deleted: [StoredMedia] = []
            for id in ids {
                guard let stored = try Self.media(db, id) else { continue }
                try db.execute(sql: "DELETE FROM media WHERE id = ? AND unused_since IS NOT NULL", arguments: [id])
                if db.changesCount > 0 { deleted.append(stored) }
            }
            return deleted
        }
    }

    public func allMedia() async throws -> [StoredMedia] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.mediaColumns) FROM media ORDER BY id").map(Self.storedMedia)
        }
    }

    public func statistics() async throws -> [MediaStatistic] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT kind, status, COUNT(*), SUM(size) FROM media GROUP BY kind, status ORDER BY kind, status"
            ).map {
                MediaStatistic(
                    kind: MediaKind(rawValue: $0[0]) ?? .file, status: MediaStatus(rawValue: $0[1]) ?? .failed,
                    count: $0[2], bytes: $0[3] ?? 0)
            }
        }
    }

    public func purgeDeletedMessageText(before: Millis) async throws -> Int {
        try await database.write { context in
            try context.db.execute(
                sql: """
                    DELETE FROM notifications WHERE message_id IN (
                        SELECT id FROM messages WHERE deleted_at IS NOT NULL AND deleted_at < ?)
                    """, arguments: [before])
            return context.db.changesCount
        }
    }

    /// After a message was deleted: its media that no other live message carries becomes unused now.
    static func messageDeleted(_ db: Database, message: MessageID, at now: Millis) throws {
        try db.execute(
            sql: """
                UPDATE media SET unused_since = ?1
                WHERE id IN (SELECT media_id FROM message_media WHERE message_id = ?2) AND unused_since IS NULL
                  AND NOT EXISTS (
                      SELECT 1 FROM message_media mm JOIN messages m ON m.id = mm.message_id
                      WHERE mm.media_id = media.id AND m.deleted_at IS NULL)
                """, arguments: [now, message])
    }

    // MARK: Rows

    static let uploadColumns =
        "id, owner_id, size, filename, declared_type, sha256, created_at, expires_at, media_id"

    static func upload(_ row: Row) -> Upload {
        Upload(
            id: row[0], ownerId: row[1], size: row[2], filename: row[3], declaredType: row[4], sha256: row[5],
            createdAt: row[6], expiresAt: row[7], mediaId: row[8])
    }

    static let mediaColumns = """
        id, owner_id, kind, content_type, filename, size, sha256, status, width, height, duration_ms, blurhash, codecs,
        display_type, thumbnail_type, error, created_at, upload_id
        """

    static func media(_ db: Database, _ id: Int64) throws -> StoredMedia? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(mediaColumns) FROM media WHERE id = ?"), arguments: [id]
        ).map(storedMedia)
    }

    static func storedMedia(_ row: Row) -> StoredMedia {
        let codecs: String? = row[12]
        let displayType: String? = row[13]
        let thumbnailType: String? = row[14]
        var variants: [String] = []
        if displayType != nil { variants.append(MediaVariant.display.rawValue) }
        if thumbnailType != nil { variants.append(MediaVariant.thumbnail.rawValue) }
        let media = Media(
            id: row[0], ownerId: row[1], kind: MediaKind(rawValue: row[2]) ?? .file, contentType: row[3],
            filename: row[4], size: row[5], sha256: row[6], status: MediaStatus(rawValue: row[7]) ?? .failed,
            width: row[8], height: row[9], durationMs: row[10], blurhash: row[11],
            codecs: codecs.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) },
            variants: variants, error: row[15], createdAt: row[16])
        return StoredMedia(media: media, uploadId: row[17], displayType: displayType, thumbnailType: thumbnailType)
    }
}

/// `{"media":{…},"seqs":[…]}`: the media, and the messages of the event's conversation that carry it.
struct MediaEventData: Encodable {
    var media: Media
    var seqs: [Seq]?
}
