import ChatCore
import Foundation
import GRDB
import Testing

@testable import ChatStore

/// Search in the scripts people write in: each message is found by each of its words, typed with or without the
/// marks writers often leave out, and nothing a user types reaches FTS5 as syntax.
@Suite struct SearchTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chatd-search-\(UUID().uuidString)")

    /// A message and words that must each find it.
    static let corpus: [(text: String, words: [String])] = [
        ("Crème brûlée, naïve café", ["creme", "brulee", "naive", "café", "CAFE"]),
        ("Καλημέρα κόσμε", ["Καλημέρα", "καλημερα", "κοσμε"]),
        ("Привет, как дела?", ["привет", "Как", "дела"]),
        ("שָׁלוֹם עֲלֵיכֶם", ["שָׁלוֹם", "שלום", "עליכם"]),
        ("مَرْحَبًا بِكُمْ يا أصدقـــاء", ["مَرْحَبًا", "مرحبا", "بكم", "أصدقاء"]),
        ("नमस्ते दुनिया, क्या हाल है", ["नमस्ते", "दुनिया", "क्या", "हाल"]),
        ("ধন্যবাদ বন্ধু", ["ধন্যবাদ", "বন্ধু"]),
        ("வணக்கம் நண்பர்களே", ["வணக்கம்", "நண்பர்களே"]),
        ("സ്വാഗതം ൎ\"x", ["സ്വാഗതം", "ൎ\"x"]),
        ("می‌خواهم بروم", ["می‌خواهم", "میخواهم", "بروم"]),
        ("안녕하세요 여러분", ["안녕하세요", "여러분"]),
        ("你好世界，我们明天见", ["你好", "世界", "明天", "你好世界", "见", "我 明天", "们"]),
        ("東京タワーに行きました", ["東京", "タワー", "行きました", "東京タワー"]),
        ("สวัสดีครับ ยินดีต้อนรับ", ["สวัสดี", "ครับ", "ยินดี", "ต้อนรับ"]),
        ("ສະບາຍດີ", ["ສະບາຍດີ", "ສະບາຍ"]),
        ("party 🎉 at eight 👍🏽 ❤️", ["🎉", "👍", "👍🏽", "❤", "❤️", "party"]),
        ("family 👨‍👩‍👧 photo", ["👨‍👩‍👧", "👨👩👧", "photo"]),
        ("a\u{200D}b zwj", ["a\u{200D}b", "zwj"]),
        ("Ⅻ ½ 𝐁𝐨𝐥𝐝 ２０２６", ["𝐁𝐨𝐥𝐝", "２０２６"]),
    ]

    @Test func everyMessageIsFoundByEachOfItsWords() async throws {
        let store = try Store(directory: directory)
        let alice = try await store.accounts.createUser(handle: "alice", displayName: "A", passwordHash: nil).id
        let bob = try await store.accounts.createUser(handle: "bob", displayName: "B", passwordHash: nil).id
        let (direct, _) = try await store.conversations.openDirect(user: alice, peer: bob)
        var seqs: [String: Seq] = [:]
        for (index, entry) in Self.corpus.enumerated() {
            let sent = try await store.messages.sendMessage(
                sender: alice, conversation: direct.id, clientId: "m\(index)", text: entry.text)
            seqs[entry.text] = sent.message.seq
        }
        for entry in Self.corpus {
            for word in entry.words {
                let hits = try await store.messages.search(word, user: bob, conversation: nil, limit: 50)
                #expect(hits.contains { $0.message.seq == seqs[entry.text] }, "'\(word)' should find '\(entry.text)'")
            }
        }
        // The index agrees with its content, every script's rows edited and deleted included.
        for (index, entry) in Self.corpus.enumerated() where index.isMultiple(of: 3) {
            _ = try await store.messages.editMessage(
                conversation: direct.id, seq: seqs[entry.text]!, text: entry.text + " 編集済み ✓", editor: alice)
        }
        for (index, entry) in Self.corpus.enumerated() where index % 3 == 1 {
            _ = try await store.messages.deleteMessage(conversation: direct.id, seq: seqs[entry.text]!, actor: alice)
        }
        var configuration = Configuration()
        configuration.prepareDatabase { StoreDatabase.prepareConnection($0) }
        let check = try DatabaseQueue(path: directory.appendingPathComponent("chatd.sqlite").path, configuration: configuration)
        try await check.write { db in
            try db.execute(sql: "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
        }
        // Not everything matches everything.
        #expect(try await store.messages.search("東京 привет", user: bob, conversation: nil, limit: 50).isEmpty)
        #expect(try await store.messages.search("大阪", user: bob, conversation: nil, limit: 50).isEmpty)
    }

    @Test func queriesAreNeverFTS5Syntax() async throws {
        let store = try Store(directory: directory)
        let alice = try await store.accounts.createUser(handle: "alice", displayName: "A", passwordHash: nil).id
        let bob = try await store.accounts.createUser(handle: "bob", displayName: "B", passwordHash: nil).id
        let (direct, _) = try await store.conversations.openDirect(user: alice, peer: bob)
        _ = try await store.messages.sendMessage(sender: alice, conversation: direct.id, clientId: "x", text: "body text")
        let hostile = [
            "a\u{200D}b", "a\u{200C}b", "x\u{FE0F}y", "\u{0D4E}\"", "\u{0D4E}\" OR body:*", "body:text", "\"", "\"\"\"",
            "NEAR(body text)", "body OR text", "body AND NOT text", "-body", "^body", "body*", "(body", "{body}",
            "body + text", "\u{0301}", "\u{0301}body", "a\u{0}b", "\u{202E}txet", "'; DROP TABLE messages; --",
            String(repeating: "a ", count: 500), String(repeating: "東", count: 2000),
        ]
        for query in hostile {
            do {
                _ = try await store.messages.search(query, user: bob, conversation: nil, limit: 10)
            } catch let error as ChatError {
                #expect(error.code == .invalidRequest, "'\(query)': \(error)")
            }
        }
        await #expect(throws: ChatError.invalid("q must contain at least one word (letters, digits or emoji)")) {
            try await store.messages.search("\"* : ( )", user: bob, conversation: nil, limit: 10)
        }
    }

    @Test func anIndexBuiltWithOtherTermsIsRebuiltAtStart() async throws {
        do {
            let store = try Store(directory: directory)
            let alice = try await store.accounts.createUser(handle: "alice", displayName: "A", passwordHash: nil).id
            let bob = try await store.accounts.createUser(handle: "bob", displayName: "B", passwordHash: nil).id
            let (direct, _) = try await store.conversations.openDirect(user: alice, peer: bob)
            _ = try await store.messages.sendMessage(sender: alice, conversation: direct.id, clientId: "x", text: "東京タワー")
            try store.close()
        }
        // As if another build (other Unicode tables) had indexed the messages: other terms, another fingerprint.
        var configuration = Configuration()
        configuration.prepareDatabase { StoreDatabase.prepareConnection($0) }
        let queue = try DatabaseQueue(path: directory.appendingPathComponent("chatd.sqlite").path, configuration: configuration)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')")
            try db.execute(sql: "UPDATE meta SET value = 42 WHERE key = 'search_terms'")
        }
        try queue.close()
        let reopened = try Store(directory: directory)
        #expect(try await reopened.messages.search("タワー", user: 2, conversation: nil, limit: 10).count == 1)
        let check = try DatabaseQueue(path: directory.appendingPathComponent("chatd.sqlite").path, configuration: configuration)
        try await check.write { db in
            try db.execute(sql: "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
            #expect(try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'search_terms'") != 42)
        }
    }

    @Test func theMigrationReindexesMessagesWrittenUnderTheOldRule() async throws {
        // A v1 database with a message its tokenizer split inside words.
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("chatd.sqlite").path
        do {
            let queue = try DatabaseQueue(path: path)
            // The same migrations, stopped before v2.
            try Migrations.migrator.migrate(queue, upTo: "v1: users, conversations, messages, events, auth")
            try await queue.write { db in
                try db.execute(sql: """
                    INSERT INTO users (id, handle, display_name, created_at) VALUES (1, 'alice', 'A', 0);
                    INSERT INTO conversations (id, kind, created_by, created_at, last_activity_at, direct_key, last_seq, member_count) VALUES (1, 'direct', 1, 0, 0, '1:1', 1, 1);
                    INSERT INTO members (conversation_id, user_id, role, joined_at, since_cursor) VALUES (1, 1, 'owner', 0, 0);
                    INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, body, created_at)
                        VALUES (1, 1, 1, 1, 'c', 'नमस्ते 東京タワー', 0);
                    INSERT INTO messages_fts (rowid, body) VALUES (1, 'नमस्ते 東京タワー');
                    """)
            }
        }
        let store = try Store(directory: directory)
        #expect(try await store.messages.search("नमस्ते", user: 1, conversation: nil, limit: 10).count == 1)
        #expect(try await store.messages.search("タワー", user: 1, conversation: nil, limit: 10).count == 1)
    }
}

