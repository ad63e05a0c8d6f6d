import ChatCore
import Foundation
import Synchronization
import Testing

@testable import ChatStore

/// Push targets and the notify job's reads and writes on a real SQLite store: one target per device that moves
/// with its token and ends with its session; the audience of a message as the job weighs it; a fan-out and a
/// settlement that happen once.
@Suite struct PushStoreTests {
    static func store() throws -> (Store, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chatd-store-\(UUID().uuidString)")
        return (try Store(directory: directory), directory)
    }

    static func webPush(_ endpoint: String) -> PushTargetRegistration {
        PushTargetRegistration(
            platform: .webpush, token: endpoint, p256dh: Data([4] + Array(repeating: 7, count: 64)),
            auth: Data(count: 16))
    }

    @Test func aDeviceHasOneTargetThatEndsWithItsSession() async throws {
        let (store, directory) = try Self.store()
        defer { try? store.close(); try? FileManager.default.removeItem(at: directory) }
        let alice = try await store.accounts.createUser(handle: "alice", displayName: "Alice", passwordHash: nil).id
        let bob = try await store.accounts.createUser(handle: "bob", displayName: "Bob", passwordHash: nil).id
        let phone = try await store.accounts.startSession(user: alice, refreshTokenHash: Data([1]), expiresAt: .max)
        let laptop = try await store.accounts.startSession(user: alice, refreshTokenHash: Data([2]), expiresAt: .max)

        let first = try await store.push.register(
            PushTargetRegistration(platform: .fcm, token: "fcm-1"), user: alice, session: phone, now: 1)
        // The phone's new token replaces its old one.
        let second = try await store.push.register(
            PushTargetRegistration(platform: .fcm, token: "fcm-2"), user: alice, session: phone, now: 2)
        let browser = try await store.push.register(Self.webPush("https://push.example/a"), user: alice, session: laptop, now: 3)
        #expect(try await store.push.targets(of: alice).map(\.id) == [second.id, browser.id])
        #expect(try await store.push.targets(ids: [first.id, browser.id]) == [browser])

        // The same token registered by another user's device moves there.
        let bobsPhone = try await store.accounts.startSession(user: bob, refreshTokenHash: Data([3]), expiresAt: .max)
        _ = try await store.push.register(
            PushTargetRegistration(platform: .fcm, token: "fcm-2"), user: bob, session: bobsPhone, now: 4)
        #expect(try await store.push.targets(of: alice) == [browser])
        #expect(try await store.push.remove(target: browser.id, user: bob) == false, "only the owner removes it")

        // Logging out the laptop (its session revoked) takes its target, and it registers nothing after.
        try await store.accounts.revokeSession(laptop, reason: "logout")
        #expect(try await store.push.targets(of: alice).isEmpty)
        await #expect(throws: ChatError.unauthorized) {
            try await store.push.register(Self.webPush("https://push.example/late"), user: alice, session: laptop, now: 5)
        }
        #expect(try await store.push.removeTarget(session: bobsPhone))
        #expect(try await store.push.targets(of: bob).isEmpty)

        #expect(try await store.push.settings(of: alice) == PushSettings(mentionsBreakMute: true))
        try await store.push.setSettings(PushSettings(mentionsBreakMute: false), user: alice)
        #expect(try await store.push.settings(of: alice) == PushSettings(mentionsBreakMute: false))
    }

    static func audience(
        _ store: Store, _ message: MessageID, connected: @escaping @Sendable ([UserID]) -> Set<UserID> = { _ in [] }
    ) async throws -> PushAudienceInput? {
        try await store.push.audiences(of: [message], connected: connected)[message]
    }

    @Test func audienceFanOutAndSettlement() async throws {
        let (store, directory) = try Self.store()
        defer { try? store.close(); try? FileManager.default.removeItem(at: directory) }
        var users: [UserID] = []
        for handle in ["ann", "bob", "cat", "dan"] {
            users.append(try await store.accounts.createUser(handle: handle, displayName: handle.capitalized, passwordHash: nil).id)
        }
        let (ann, bob, cat, dan) = (users[0], users[1], users[2], users[3])
        let group = try await store.conversations.createGroup(creator: ann, title: "Crew", members: [bob, cat, dan])
        _ = try await store.conversations.setMuted(true, conversation: group.id, user: cat)
        try await store.accounts.block(user: dan, target: ann)
        let bobsTarget = try await store.push.register(Self.webPush("https://push.example/bob"), user: bob, session: nil, now: 1)

        let first = try await store.messages.sendMessage(sender: ann, conversation: group.id, clientId: "1", text: "hi @cat")
        let input = try #require(try await Self.audience(store, first.message.id))
        #expect(input.message.isGroup && input.message.conversationTitle == "Crew" && input.message.senderName == "Ann")
        #expect(input.message.text == "hi @cat" && input.message.seq == 1)
        let byUser = Dictionary(uniqueKeysWithValues: input.candidates.map { ($0.userId, $0) })
        #expect(Set(byUser.keys) == [bob, cat, dan])
        #expect(byUser[bob]?.targets == [bobsTarget] && byUser[bob]?.unread == 1 && byUser[bob]?.superseded == false)
        #expect(byUser[cat]?.muted == true && byUser[cat]?.handle == "cat")
        #expect(byUser[dan]?.blockedSender == true)
        // Members who are connected are left out, and asked about once, without the sender.
        let asked = Mutex<[UserID]>([])
        let someOnline = try #require(
            try await Self.audience(store, first.message.id) { members in
                asked.withLock { $0 += members }
                return Set(members).intersection([bob, dan])
            })
        #expect(someOnline.candidates.map(\.userId) == [cat] && asked.withLock { $0.sorted() } == [bob, cat, dan])
        let allOnline = try #require(try await Self.audience(store, first.message.id) { Set($0) })
        #expect(allOnline.candidates.isEmpty && allOnline.message == input.message)

        // A later message from someone else supersedes the first for everyone but its own sender.
        _ = try await store.messages.sendMessage(sender: bob, conversation: group.id, clientId: "2", text: "yo")
        let again = try #require(try await Self.audience(store, first.message.id))
        let superseded = Dictionary(uniqueKeysWithValues: again.candidates.map { ($0.userId, $0.superseded) })
        #expect(superseded == [bob: false, cat: true, dan: true])
        // …unless its sender is one they blocked: that message never notifies them, so it supersedes nothing.
        try await store.accounts.block(user: cat, target: bob)
        let blocked = try #require(try await Self.audience(store, first.message.id))
        #expect(blocked.candidates.first { $0.userId == cat }?.superseded == false)

        // Each send enqueued its notify job; a fan-out records and enqueues once per job.
        let now = Clock.nowMillis()
        let leased = try await store.jobs.lease(queue: "notify", limit: 2, now: now, leaseUntil: now + 60_000, maxAttempts: 5)
        #expect(leased.jobs.count == 2)
        let (job, secondJob) = (leased.jobs[0], leased.jobs[1])
        let notification = Notification(userId: bob, conversationId: group.id, messageId: first.message.id, title: "Crew", body: "Ann: hi @cat")
        let delivery = Job(kind: Job.Kind.pushDeliver, queue: Job.Queue.push, payload: "{\"items\":[],\"attempt\":1}")
        let fanOut = PushFanOut(lease: job.lease, notifications: [notification], deliveries: [delivery])
        #expect(try await store.push.fanOut([fanOut]).isEmpty)
        // The lease is spent: nothing twice, while the other job of the same batch is finished.
        let second = PushFanOut(lease: secondJob.lease, notifications: [], deliveries: [])
        #expect(try await store.push.fanOut([fanOut, second]) == [job.lease])
        #expect(try await store.notifications.notifications(for: bob, limit: 10) == [notification])
        #expect(try await store.jobs.jobs(queue: "notify", state: nil, limit: 10).isEmpty)
        let queued = try await store.jobs.jobs(queue: "push", state: nil, limit: 10)
        #expect(queued.filter { $0.kind == Job.Kind.pushDeliver }.count == 1)

        // A delivery attempt's settlement: the gone target removed, the retry enqueued, the job finished.
        let later = Clock.nowMillis() + 1
        let deliveries = try await store.jobs.lease(queue: "push", limit: 10, now: later, leaseUntil: later + 60_000, maxAttempts: 5)
        let deliver = try #require(deliveries.jobs.first { $0.kind == Job.Kind.pushDeliver })
        let retry = Job(kind: Job.Kind.pushDeliver, queue: Job.Queue.push, payload: "{\"items\":[],\"attempt\":2}", runAt: now + 120_000)
        #expect(try await store.push.deletedMessages(among: [first.message.id, 999]) == [999])
        try await store.push.settle(removing: [bobsTarget.id], retries: [retry], completing: deliver.lease)
        #expect(try await store.push.targets(of: bob).isEmpty)
        let after = try await store.jobs.jobs(queue: "push", state: nil, limit: 10).filter { $0.kind == Job.Kind.pushDeliver }
        #expect(after.map(\.availableAt) == [now + 120_000])

        // A deleted message notifies nobody.
        _ = try await store.messages.deleteMessage(conversation: group.id, seq: 1, actor: ann)
        #expect(try await store.push.audiences(of: [first.message.id]) { _ in [] }.isEmpty)
        #expect(try await store.push.deletedMessages(among: [first.message.id]) == [first.message.id])
        #expect(try await store.notifications.prune(before: Clock.nowMillis() + 1) == 1)
    }
}
