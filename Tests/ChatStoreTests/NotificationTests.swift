import ChatCore
import Foundation
import Testing

@testable import ChatStore

/// Notifications: drafted from a message and its members, recorded once per recipient with the job that made them,
/// and pruned with the event log's retention.
@Suite struct NotificationTests {
    @Test func recordedOnceAndPrunedWhenOld() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chatd-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Store(directory: directory)
        defer { try? store.close() }
        let alice = try await store.accounts.createUser(handle: "alice", displayName: "Alice", passwordHash: nil).id
        let bob = try await store.accounts.createUser(handle: "bob", displayName: "Bob", passwordHash: nil).id
        let (direct, _) = try await store.conversations.openDirect(user: alice, peer: bob)
        let sent = try await store.messages.sendMessage(sender: alice, conversation: direct.id, clientId: "1", text: "hi")
        let draft = try #require(try await store.notifications.draft(message: sent.message.id))
        #expect(draft == NotificationDraft(recipients: [bob], title: "Alice", body: "hi"))

        // The send enqueued its notify job; a worker leases it and records, twice (the first run's worker died
        // after its commit): the second records nothing new.
        let now = Clock.nowMillis()
        let leased = try await store.jobs.lease(queue: "notify", limit: 1, now: now, leaseUntil: now + 60_000, maxAttempts: 5)
        let job = try #require(leased.jobs.first)
        let notification = Notification(
            userId: bob, conversationId: direct.id, messageId: sent.message.id, title: draft.title, body: draft.body)
        #expect(try await store.notifications.record([notification], completing: job.lease) == 1)
        #expect(try await store.notifications.record([notification], completing: job.lease) == 0)
        #expect(try await store.jobs.jobs(queue: "notify", state: nil, limit: 5).isEmpty, "finished with its record")
        #expect(try await store.notifications.notifications(for: bob, limit: 10) == [notification])

        // A deleted message notifies nobody.
        _ = try await store.messages.deleteMessage(conversation: direct.id, seq: 1, actor: alice)
        #expect(try await store.notifications.draft(message: sent.message.id) == nil)

        #expect(try await store.notifications.prune(before: now - 1) == 0)
        #expect(try await store.notifications.prune(before: Clock.nowMillis() + 1) == 1)
        #expect(try await store.notifications.notifications(for: bob, limit: 10).isEmpty)
    }
}
