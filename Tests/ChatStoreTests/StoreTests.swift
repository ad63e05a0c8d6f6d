import ChatCore
import Foundation
import GRDB
import Synchronization
import Testing

@testable import ChatStore

/// The store on real SQLite files: group commit, savepoint isolation, schema invariants, the event log.
@Suite struct StoreTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chatd-store-\(UUID().uuidString)")

    func open(limits: StoreLimits = StoreLimits()) throws -> Store {
        try Store(directory: directory, limits: limits)
    }

    func users(_ store: Store, _ count: Int) async throws -> [UserID] {
        var ids: [UserID] = []
        for index in 0..<count {
            ids.append(try await store.accounts.createUser(handle: "user\(index)", displayName: "User \(index)", passwordHash: nil).id)
        }
        return ids
    }

    @Test func concurrentWritesShareTransactions() async throws {
        let store = try open()
        let ids = try await users(store, 2)
        let (direct, _) = try await store.conversations.openDirect(user: ids[0], peer: ids[1])
        let before = store.writeStatistics
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<256 {
                group.addTask {
                    _ = try await store.messages.sendMessage(
                        sender: ids[index % 2], conversation: direct.id, clientId: "c\(index)", text: "hello \(index)")
                }
            }
            try await group.waitForAll()
        }
        let after = store.writeStatistics
        #expect(after.writes - before.writes == 256)
        #expect(after.transactions - before.transactions < 128, "256 concurrent sends took \(after.transactions - before.transactions) commits")
        let page = try await store.messages.history(conversation: direct.id, for: ids[0], before: nil, after: 0, limit: 100)
        #expect(page.messages.map(\.seq) == Array(1...100))
    }

    @Test func aFailingWriteFailsAloneInItsBatch() async throws {
        let store = try open()
        let ids = try await users(store, 3)
        let (direct, _) = try await store.conversations.openDirect(user: ids[0], peer: ids[1])
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<60 {
                group.addTask {
                    // Every third send comes from a non-member and must fail without taking the others down.
                    let sender = index % 3 == 0 ? ids[2] : ids[index % 2]
                    do {
                        _ = try await store.messages.sendMessage(
                            sender: sender, conversation: direct.id, clientId: "c\(index)", text: "hi")
                        return true
                    } catch let error as ChatError {
                        #expect(error.code == .notFound)
                        return false
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 40)
        let page = try await store.messages.history(conversation: direct.id, for: ids[0], before: nil, after: 0, limit: 100)
        #expect(page.messages.map(\.seq) == Array(1...40), "the failed writes left no seq behind")
        let view = try await store.conversations.conversation(direct.id, for: ids[0])
        #expect(view.lastSeq == 40)
    }

    @Test func eventsArePublishedAfterCommitInCursorOrder() async throws {
        final class Recorder: EventPublisher {
            let events = Mutex<[Event]>([])
            func publish(_ events: [Event]) { self.events.withLock { $0 += events } }
        }
        let store = try open()
        let recorder = Recorder()
        store.setEventPublisher(recorder)
        let ids = try await users(store, 2)
        let (direct, _) = try await store.conversations.openDirect(user: ids[0], peer: ids[1])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                group.addTask {
                    _ = try await store.messages.sendMessage(sender: ids[0], conversation: direct.id, clientId: "c\(index)", text: "x")
                }
            }
            try await group.waitForAll()
        }
        _ = try await store.messages.react("👍", add: true, conversation: direct.id, seq: 1, user: ids[1])
        _ = try await store.messages.editMessage(conversation: direct.id, seq: 1, text: "edited", editor: ids[0])
        _ = try await store.messages.markReceipt(.read, upTo: 50, conversation: direct.id, user: ids[1])
        let published = recorder.events.withLock { $0 }
        #expect(published.count == 55)
        #expect(published.map(\.cursor) == Array(1...55))
        guard case .events(let synced, _, _) = try await store.events.sync(user: ids[1], after: 0, limit: 1000) else {
            Issue.record("sync refused")
            return
        }
        #expect(synced.map(\.cursor) == published.map(\.cursor))
        // Replayed message events show the message as it is now; everything else is exactly what went out live.
        #expect(synced[1].data.contains("\"text\":\"edited\""))
        #expect(synced.dropFirst(2).map(\.data) == published.dropFirst(2).map(\.data))
    }

    @Test func syncAdvancesQuietUsersAndShowsEveryNewcomerEachArrival() async throws {
        let store = try open()
        let ids = try await users(store, 5)
        let (quiet, _) = try await store.conversations.openDirect(user: ids[0], peer: ids[1])
        let (busy, _) = try await store.conversations.openDirect(user: ids[2], peer: ids[3])
        for index in 0..<5 {
            _ = try await store.messages.sendMessage(sender: ids[2], conversation: busy.id, clientId: "b\(index)", text: "x")
        }
        guard case .events(let mine, let cursor, false) = try await store.events.sync(user: ids[0], after: 0, limit: 10) else {
            Issue.record("sync refused")
            return
        }
        #expect(mine.map(\.type) == [.conversationCreated])
        #expect(cursor == (try await store.events.headCursor()), "the cursor moves past other users' events")
        _ = quiet

        let group = try await store.conversations.createGroup(creator: ids[0], title: "g", members: [])
        _ = try await store.conversations.addMembers([ids[3], ids[4]], conversation: group.id, actor: ids[0])
        for newcomer in [ids[3], ids[4]] {
            guard case .events(let events, _, _) = try await store.events.sync(user: newcomer, after: cursor, limit: 10) else {
                Issue.record("sync refused")
                return
            }
            #expect(events.filter { $0.type == .memberAdded }.count == 2, "each newcomer sees both arrivals")
        }
    }

    @Test func schemaInvariantsHoldEvenAgainstRawSQL() async throws {
        let store = try open()
        let ids = try await users(store, 2)
        let (direct, _) = try await store.conversations.openDirect(user: ids[0], peer: ids[1])
        _ = try await store.messages.sendMessage(sender: ids[0], conversation: direct.id, clientId: "a", text: "one")
        let attempts = [
            "INSERT INTO messages (conversation_id, seq, sender_id, client_id, body, created_at) VALUES (\(direct.id), 1, \(ids[1]), 'b', 'dup seq', 0)",
            "INSERT INTO messages (conversation_id, seq, sender_id, client_id, body, created_at) VALUES (\(direct.id), 2, \(ids[0]), 'a', 'dup client id', 0)",
            "INSERT INTO messages (conversation_id, seq, sender_id, client_id, body, created_at) VALUES (999, 2, \(ids[0]), 'z', 'no conversation', 0)",
            "INSERT INTO members (conversation_id, user_id, role, joined_at, since_cursor) VALUES (\(direct.id), 999, 'member', 0, 0)",
            "INSERT INTO users (handle, display_name, created_at) VALUES ('USER0', 'case-insensitive duplicate', 0)",
            "INSERT INTO conversations (kind, created_at, last_activity_at) VALUES ('direct', 0, 0)",
        ]
        for sql in attempts {
            await #expect(throws: DatabaseError.self, "\(sql)") {
                try await store.database.write { try $0.db.execute(sql: sql) }
            }
        }
    }

    /// The writer's connection is the one whose `synchronous` decides whether a commit waits for the disk; GRDB sets
    /// it to NORMAL when it turns WAL on, after the configuration's own setup ran.
    @Test(arguments: [(Durability.full, 2), (Durability.normal, 1)])
    func theWriterCommitsWithTheConfiguredDurability(durability: Durability, pragma: Int) async throws {
        let store = try Store(directory: directory, durability: durability)
        defer { try? store.close() }
        let synchronous = try await store.database.write { try Int.fetchOne($0.db, sql: "PRAGMA synchronous") }
        #expect(synchronous == pragma)
    }

    @Test func aDatabaseFromANewerChatdIsRefused() async throws {
        do {
            let store = try open()
            try await store.database.write { context in
                try context.db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')")
            }
            try store.close()
        }
        #expect {
            try open()
        } throws: { error in
            (error as? StoreError)?.message.contains("newer version of chatd") == true
        }
    }

    @Test func prunedHistoryAnswersResetRequired() async throws {
        let store = try open()
        let ids = try await users(store, 2)
        let (direct, _) = try await store.conversations.openDirect(user: ids[0], peer: ids[1])
        for index in 0..<5 {
            _ = try await store.messages.sendMessage(sender: ids[0], conversation: direct.id, clientId: "c\(index)", text: "x")
        }
        #expect(try await store.events.pruneEvents(olderThan: Clock.nowMillis() + 1, batch: 2) == 6)
        #expect(try await store.events.headCursor() == 6, "with every event pruned, the head is where pruning stopped")
        _ = try await store.messages.sendMessage(sender: ids[0], conversation: direct.id, clientId: "after", text: "y")
        #expect(try await store.events.sync(user: ids[1], after: 0, limit: 10) == .resetRequired(head: 7, oldestAvailable: 6))
        #expect(try await store.events.sync(user: ids[1], after: 5, limit: 10) == .resetRequired(head: 7, oldestAvailable: 6))
        guard case .events(let events, let cursor, false) = try await store.events.sync(user: ids[1], after: 6, limit: 10) else {
            Issue.record("a cursor at the pruning point must sync")
            return
        }
        #expect(events.map(\.cursor) == [7])
        #expect(cursor == 7)
        // Cursors are never reused after pruning (AUTOINCREMENT).
        #expect(try await store.events.headCursor() == 7)
    }

    @Test func searchIsScopedToTheAskersConversationsAndFollowsEdits() async throws {
        let store = try open()
        let ids = try await users(store, 3)
        let (mine, _) = try await store.conversations.openDirect(user: ids[0], peer: ids[1])
        let (theirs, _) = try await store.conversations.openDirect(user: ids[1], peer: ids[2])
        _ = try await store.messages.sendMessage(sender: ids[0], conversation: mine.id, clientId: "a", text: "Crème brûlée recipe")
        _ = try await store.messages.sendMessage(sender: ids[1], conversation: theirs.id, clientId: "b", text: "secret recipe")
        #expect(try await store.messages.search("creme", user: ids[0], conversation: nil, limit: 10).count == 1)
        #expect(try await store.messages.search("recipe", user: ids[0], conversation: nil, limit: 10).count == 1)
        #expect(try await store.messages.search("recipe", user: ids[1], conversation: nil, limit: 10).count == 2)
        #expect(try await store.messages.search("rec", user: ids[1], conversation: theirs.id, limit: 10).count == 1)
        // FTS syntax and control characters in the query are just text.
        #expect(try await store.messages.search("recipe\" OR secret NEAR(", user: ids[0], conversation: nil, limit: 10).isEmpty)
        for odd in ["C¹!#¤\u{0}ä'\th", "\u{0}", "a\u{0}b", "*", "\"\"", "NEAR(a b)", "a:b", "^x", "-x", "x AND"] {
            _ = try await store.messages.search(odd + " recipe", user: ids[0], conversation: nil, limit: 10)
        }
        await #expect(throws: ChatError.self) { try await store.messages.search("\u{0} \u{1}", user: ids[0], conversation: nil, limit: 10) }
        // Words split where the tokenizer splits, so punctuated words are found (and never become phrases).
        _ = try await store.messages.sendMessage(sender: ids[0], conversation: mine.id, clientId: "p", text: "Don't forget the e-mail.")
        #expect(try await store.messages.search("don't", user: ids[1], conversation: nil, limit: 10).count == 1)
        #expect(try await store.messages.search("e-mail", user: ids[1], conversation: nil, limit: 10).count == 1)
        #expect(try await store.messages.search("E-MA", user: ids[1], conversation: nil, limit: 10).first?.snippet.contains("[e]-[mail]") == true)
        _ = try await store.messages.editMessage(conversation: mine.id, seq: 1, text: "Tarte tatin", editor: ids[0])
        #expect(try await store.messages.search("recipe", user: ids[0], conversation: nil, limit: 10).isEmpty)
        #expect(try await store.messages.search("tatin", user: ids[0], conversation: nil, limit: 10).count == 1)
        _ = try await store.messages.deleteMessage(conversation: mine.id, seq: 1, actor: ids[0])
        #expect(try await store.messages.search("tatin", user: ids[0], conversation: nil, limit: 10).isEmpty)
    }
}

/// The checkpointer moves committed pages into the database file by itself, off the writer's path.
@Suite struct CheckpointerTests {
    @Test func committedMessagesReachTheDatabaseFileWithoutTheWriterCheckpointing() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chatd-ckpt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Store(directory: directory)
        let alice = try await store.accounts.createUser(handle: "alice", displayName: "A", passwordHash: nil).id
        let bob = try await store.accounts.createUser(handle: "bob", displayName: "B", passwordHash: nil).id
        let (direct, _) = try await store.conversations.openDirect(user: alice, peer: bob)
        for index in 0..<200 {
            _ = try await store.messages.sendMessage(sender: alice, conversation: direct.id, clientId: "c\(index)", text: "hello")
        }
        // Far below the writer's own threshold, so only the checkpointer can have copied these pages.
        var copied = 0
        for _ in 0..<50 where copied < 200 {
            try await Task.sleep(for: .milliseconds(100))
            let snapshot = directory.appendingPathComponent("snapshot-\(UUID().uuidString).sqlite")
            try FileManager.default.copyItem(at: directory.appendingPathComponent("chatd.sqlite"), to: snapshot)
            let mainFileOnly = try DatabaseQueue(path: snapshot.path)
            // Until a checkpoint, the file alone may not even hold the schema.
            copied = (try? await mainFileOnly.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages") }) ?? 0
            try mainFileOnly.close()
        }
        #expect(copied == 200)
        try store.close()
    }
}
