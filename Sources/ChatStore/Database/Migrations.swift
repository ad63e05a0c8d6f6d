import GRDB

/// The schema, as SQL migrations. A migration that has shipped is never edited: change the schema with a new one.
enum Migrations {
    /// v1's `unicode61` split words inside many scripts (at vowel signs, ZWNJ) and found no Chinese, Japanese or
    /// Thai word but a message's first: the index is made again with the "chatd" tokenizer (`SearchTokenizer`).
    static func reindexSearch(_ db: Database) throws {
        try db.execute(
            sql: """
                DROP TABLE messages_fts;
                CREATE VIRTUAL TABLE messages_fts USING fts5(
                    body, content='messages', content_rowid='id', tokenize='chatd', detail='column'
                );
                INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
                """)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: users, conversations, messages, events, auth") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2: search finds words in every script") { db in
            try reindexSearch(db)
        }
        migrator.registerMigration("v3: the job queue") { db in
            try db.execute(sql: v3)
        }
        migrator.registerMigration("v4: media, attachments and their events") { db in
            try db.execute(sql: v4)
            try allowEventTypes(upTo: 15, db)
        }
        migrator.registerMigration("v5: disabled accounts") { db in
            // Set by `chatctl user disable`: no sign-in, no token accepted, every session revoked.
            try db.execute(sql: "ALTER TABLE users ADD COLUMN disabled_at INTEGER")
        }
        migrator.registerMigration("v6: daily usage, server roles, deleted accounts") { db in
            try db.execute(sql: v6)
        }
        migrator.registerMigration("v7: push targets") { db in
            try db.execute(sql: v7)
        }
        return migrator
    }

    /// SQLite cannot change a CHECK in place: the event table is copied into one with the wider range. Its
    /// AUTOINCREMENT high-water mark is carried over, so a cursor is never handed out twice.
    static func allowEventTypes(upTo last: Int, _ db: Database) throws {
        let sequence = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'events'") ?? 0
        try db.execute(
            sql: """
                CREATE TABLE events_new (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    type INTEGER NOT NULL CHECK (type BETWEEN 1 AND \(last)),
                    conversation_id INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
                    audience_user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
                    message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
                    data TEXT,
                    created_at INTEGER NOT NULL,
                    CHECK (conversation_id IS NOT NULL OR audience_user_id IS NOT NULL)
                );
                INSERT INTO events_new SELECT id, type, conversation_id, audience_user_id, message_id, data, created_at
                    FROM events;
                DROP TABLE events;
                ALTER TABLE events_new RENAME TO events;
                CREATE INDEX events_by_conversation ON events(conversation_id, id);
                CREATE INDEX events_by_audience ON events(audience_user_id, id) WHERE audience_user_id IS NOT NULL;
                """)
        try db.execute(sql: "DELETE FROM sqlite_sequence WHERE name = 'events'")
        try db.execute(sql: "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", arguments: [sequence])
    }

    private static let v4 = """
        -- Media (ChatMedia): uploads in progress, the files they became, and which messages carry which.
        CREATE TABLE media (
            id INTEGER PRIMARY KEY,
            owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            -- The upload it came from: its original is uploads/final/{owner_id}/{upload_id}.
            upload_id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('image', 'video', 'file')),
            -- Sniffed from the bytes, never the client's word.
            content_type TEXT NOT NULL,
            filename TEXT NOT NULL,
            size INTEGER NOT NULL CHECK (size > 0),
            sha256 TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('processing', 'ready', 'failed')),
            width INTEGER,
            height INTEGER,
            duration_ms INTEGER,
            blurhash TEXT,
            -- JSON array of codec names (video).
            codecs TEXT,
            -- The content types of the processed variants, when made.
            display_type TEXT,
            thumbnail_type TEXT,
            error TEXT,
            created_at INTEGER NOT NULL,
            processed_at INTEGER,
            -- When it stopped being carried by any message that is not deleted (or was never sent): purged after
            -- the retention. NULL while a live message carries it.
            unused_since INTEGER
        );
        CREATE INDEX media_by_owner ON media(owner_id);
        CREATE INDEX media_unused ON media(unused_since) WHERE unused_since IS NOT NULL;

        CREATE TABLE uploads (
            -- 32 hex digits made by the server: the name of the file under uploads/temp.
            id TEXT PRIMARY KEY NOT NULL,
            owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            size INTEGER NOT NULL CHECK (size > 0),
            filename TEXT NOT NULL,
            declared_type TEXT NOT NULL,
            -- The SHA-256 the client announced (hex), checked at completion.
            sha256 TEXT,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            -- Set when complete: a second completion of the same upload answers with this media.
            media_id INTEGER REFERENCES media(id) ON DELETE CASCADE
        ) WITHOUT ROWID;
        CREATE INDEX uploads_by_owner ON uploads(owner_id);

        CREATE TABLE message_media (
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            PRIMARY KEY (message_id, position)
        ) WITHOUT ROWID;
        CREATE INDEX message_media_by_media ON message_media(media_id, message_id);

        -- The message's attachments as clients see them (a JSON array of media), kept current when processing
        -- finishes, so reading a message never joins.
        ALTER TABLE messages ADD COLUMN attachments TEXT;
        """

    private static let v3 = """
        -- The durable job queue (ChatJobs). A job is enqueued in the transaction of the change that causes it and
        -- removed when an attempt completes; a dead one stays, with its last error, until retried or purged.
        CREATE TABLE jobs (
            -- AUTOINCREMENT: a finished job's id is never reused, so a late worker's (id, attempt) names no other job.
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            queue TEXT NOT NULL,
            -- Jobs with the same key run one at a time, in id order.
            key TEXT,
            payload TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'running', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            -- ready: not before this time; running: when the lease ends (and the job is due again).
            available_at INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            last_error TEXT
        );
        CREATE INDEX jobs_due ON jobs(queue, available_at) WHERE state <> 'dead';
        CREATE INDEX jobs_by_key ON jobs(key, id) WHERE key IS NOT NULL;

        -- Queues an operator paused (`chatctl jobs pause`); they stay paused across restarts.
        CREATE TABLE job_queues (
            queue TEXT PRIMARY KEY NOT NULL,
            paused INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;

        -- What the notify jobs would send to members who were not connected: one row per recipient and message.
        -- Push delivery (FCM, APNs) reads from here; until it exists, this is the record of what it would send.
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            UNIQUE (message_id, user_id)
        );
        CREATE INDEX notifications_by_user ON notifications(user_id, id);

        -- When each schedule (daily cleanup, backups) runs next; `spec` is the schedule it was computed from.
        CREATE TABLE job_schedules (
            name TEXT PRIMARY KEY NOT NULL,
            spec TEXT NOT NULL,
            next_at INTEGER NOT NULL,
            last_fired_at INTEGER
        ) WITHOUT ROWID;
        """

    private static let v1 = """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY NOT NULL,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            handle TEXT UNIQUE COLLATE NOCASE,
            display_name TEXT NOT NULL,
            password_hash TEXT,
            external_subject TEXT UNIQUE,
            phone TEXT UNIQUE,
            email TEXT UNIQUE COLLATE NOCASE,
            created_at INTEGER NOT NULL,
            last_seen_at INTEGER
        );

        CREATE TABLE blocks (
            blocker_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            blocked_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (blocker_id, blocked_id),
            CHECK (blocker_id <> blocked_id)
        ) WITHOUT ROWID;

        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
            title TEXT,
            -- "smaller_user_id:larger_user_id" for a direct conversation: exactly one per pair.
            direct_key TEXT UNIQUE,
            created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            created_at INTEGER NOT NULL,
            last_seq INTEGER NOT NULL DEFAULT 0,
            last_activity_at INTEGER NOT NULL,
            member_count INTEGER NOT NULL DEFAULT 0,
            CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
        );

        CREATE TABLE members (
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
            joined_at INTEGER NOT NULL,
            -- Events at or before this cursor predate the membership and are not in this member's sync.
            since_cursor INTEGER NOT NULL,
            last_read_seq INTEGER NOT NULL DEFAULT 0,
            last_delivered_seq INTEGER NOT NULL DEFAULT 0,
            muted INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (conversation_id, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX members_by_user ON members(user_id, conversation_id);

        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL CHECK (seq > 0),
            sender_id INTEGER NOT NULL REFERENCES users(id),
            client_id TEXT NOT NULL,
            -- NULL once deleted: the row stays as a tombstone that keeps its seq.
            body TEXT,
            reply_to_seq INTEGER,
            created_at INTEGER NOT NULL,
            -- The cursor of its message.created event: what a retried send is answered with.
            cursor INTEGER,
            edited_at INTEGER,
            deleted_at INTEGER,
            UNIQUE (conversation_id, seq),
            UNIQUE (sender_id, client_id)
        );

        CREATE TABLE reactions (
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            emoji TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (message_id, emoji, user_id)
        ) WITHOUT ROWID;

        -- The event log. Its rowid is the global cursor; AUTOINCREMENT so a pruned cursor is never reused.
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            -- EventType's storage code (see EventData.swift): an integer, not the 15-byte name, in every row.
            type INTEGER NOT NULL CHECK (type BETWEEN 1 AND 13),
            conversation_id INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
            -- When set, only this user sees the event; otherwise every member of the conversation.
            audience_user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
            -- Message events carry no copy of the text: their data is read from the message row.
            message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
            data TEXT,
            created_at INTEGER NOT NULL,
            CHECK (conversation_id IS NOT NULL OR audience_user_id IS NOT NULL)
        );
        CREATE INDEX events_by_conversation ON events(conversation_id, id);
        CREATE INDEX events_by_audience ON events(audience_user_id, id) WHERE audience_user_id IS NOT NULL;

        -- Full-text search over message text. The store writes it next to each change of a message's body, not from
        -- a trigger: a statement that fires a trigger runs in a statement savepoint, and FTS5 (SQLite 3.40) flushes
        -- its pending index at every savepoint, which made each send several times slower.
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            body, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2',
            -- Positions per column, not per token: a third smaller. Queries are single words and prefixes
            -- (Store.ftsQuery), which need no phrase positions; snippets re-tokenize the stored text.
            detail='column'
        );

        -- A login session: one family of refresh tokens. Access tokens name it (claim "sid").
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER,
            revoked_reason TEXT
        );
        CREATE INDEX sessions_by_user ON sessions(user_id);

        CREATE TABLE refresh_tokens (
            token_hash BLOB PRIMARY KEY NOT NULL,
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            used_at INTEGER
        ) WITHOUT ROWID;
        CREATE INDEX refresh_tokens_by_session ON refresh_tokens(session_id);

        CREATE TABLE otp_codes (
            destination TEXT PRIMARY KEY NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
            code_hash BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            failed_attempts INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        """

    /// `chatctl stats`' days (`SQLiteUsage`); a server-wide role (a moderator deletes any message in the
    /// conversations they are in); `deleted_at` for accounts an operator deleted (the row stays, anonymized, so their
    /// messages keep a sender).
    static let v6 = """
        CREATE TABLE usage_days (
            day TEXT PRIMARY KEY,
            messages INTEGER NOT NULL DEFAULT 0,
            uploads INTEGER NOT NULL DEFAULT 0,
            sessions INTEGER NOT NULL DEFAULT 0,
            session_seconds INTEGER NOT NULL DEFAULT 0,
            egress_bytes INTEGER NOT NULL DEFAULT 0,
            first_sample_at INTEGER,
            first_disk_used INTEGER,
            last_sample_at INTEGER,
            last_disk_used INTEGER
        ) WITHOUT ROWID;
        CREATE TABLE usage_users (
            day TEXT NOT NULL,
            user_id INTEGER NOT NULL,
            PRIMARY KEY (day, user_id)
        ) WITHOUT ROWID;
        ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'moderator'));
        ALTER TABLE users ADD COLUMN deleted_at INTEGER;
        """

    /// Where devices receive push notifications (`SQLitePush`), and a user's choice about mentions in muted
    /// conversations.
    static let v7 = """
        -- AUTOINCREMENT: a delivery queued for a removed target never reaches a later target given its id.
        CREATE TABLE push_targets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            -- The device (login session) that registered it: one each. NULL for tokens of the app's backend.
            session_id INTEGER UNIQUE REFERENCES sessions(id) ON DELETE CASCADE,
            platform TEXT NOT NULL CHECK (platform IN ('fcm', 'apns', 'webpush')),
            -- The FCM registration token, the APNs device token, or the Web Push endpoint.
            token TEXT NOT NULL,
            -- APNs: the app's bundle id, and whether the token is Apple's sandbox's.
            topic TEXT,
            sandbox INTEGER NOT NULL DEFAULT 0,
            -- Web Push: the subscription's public key and auth secret.
            p256dh BLOB,
            auth BLOB,
            created_at INTEGER NOT NULL,
            UNIQUE (platform, token),
            CHECK (platform <> 'apns' OR topic IS NOT NULL),
            CHECK (platform <> 'webpush' OR (length(p256dh) = 65 AND length(auth) = 16))
        );
        CREATE INDEX push_targets_by_user ON push_targets(user_id);

        -- A session that ends takes its device's target with it: logout, a refresh token reused, a new password,
        -- a disabled account.
        CREATE TRIGGER push_targets_of_ended_sessions AFTER UPDATE OF revoked_at ON sessions
        WHEN NEW.revoked_at IS NOT NULL
        BEGIN
            DELETE FROM push_targets WHERE session_id = NEW.id;
        END;

        ALTER TABLE users ADD COLUMN mentions_break_mute INTEGER NOT NULL DEFAULT 1;
        """
}
