import ChatCore
import Foundation
import Testing

@testable import ChatPush

/// Who gets a push for a message, and what it says: presence, mute and mentions, blocks, bursts, previews.
@Suite struct PushAudienceTests {
    static func target(_ id: Int64, user: UserID) -> PushTarget {
        PushTarget(id: id, userId: user, sessionId: nil, platform: .fcm, token: "t\(id)", createdAt: 0)
    }

    static let message = PushMessage(
        conversationId: 9, messageId: 90, seq: 5, senderId: 1, senderName: "Ann", isGroup: true,
        conversationTitle: "Climbing", text: "see you at 6, @bob and @Carol.")

    @Test func onlineMutedBlockedSupersededAndNoTarget() {
        let input = PushAudienceInput(
            message: Self.message,
            candidates: [
                PushCandidate(userId: 2, handle: "dan", unread: 1, targets: [Self.target(1, user: 2)]),
                PushCandidate(userId: 3, handle: "eve", targets: [Self.target(2, user: 3)]),
                PushCandidate(userId: 4, handle: "fay", muted: true, targets: [Self.target(3, user: 4)]),
                PushCandidate(userId: 5, handle: "gus", blockedSender: true, targets: [Self.target(4, user: 5)]),
                PushCandidate(userId: 6, handle: "hal", superseded: true, targets: [Self.target(5, user: 6)]),
                PushCandidate(userId: 7, handle: "ivy"),
                // The sender's own row never notifies.
                PushCandidate(userId: 1, handle: "ann", targets: [Self.target(6, user: 1)]),
            ])
        let audience = PushAudience(input, online: [3], preview: .full)
        #expect(audience.recipients.map(\.userId) == [2, 7])
        #expect(audience.recipients[0].targets == [Self.target(1, user: 2)])
        #expect(audience.skipped == [3: .online, 4: .muted, 5: .blocked, 6: .superseded])
        #expect(audience.recipients[1].targets.isEmpty, "told (and recorded) without a device to push to")
        let content = audience.recipients[0].content
        #expect(content.title == "Climbing")
        #expect(content.body == "Ann: see you at 6, @bob and @Carol.")
        #expect(content.badge == 1)
        #expect(content.collapseKey == "c9")
    }

    @Test func aMentionBreaksAMuteWhenTheUserAllowsIt() {
        let input = PushAudienceInput(
            message: Self.message,
            candidates: [
                PushCandidate(userId: 2, handle: "bob", muted: true, superseded: true),
                PushCandidate(userId: 3, handle: "carol", muted: true, settings: PushSettings(mentionsBreakMute: false)),
                PushCandidate(userId: 4, handle: "bo", muted: true),
            ])
        let audience = PushAudience(input, online: [], preview: .full)
        // Bob is mentioned: through the mute, and not superseded by a later message that may not mention him.
        #expect(audience.recipients.map(\.userId) == [2])
        #expect(audience.skipped[3] == .muted)
        #expect(audience.skipped[4] == .muted, "@bob does not mention @bo")
    }

    @Test func mentions() {
        #expect(PushAudience.mentions("hi @bob", handle: "bob"))
        #expect(PushAudience.mentions("@Bob, look", handle: "bob"))
        #expect(PushAudience.mentions("ask @bob.", handle: "bob"))
        #expect(PushAudience.mentions("@bob.smith here", handle: "bob.smith"))
        #expect(!PushAudience.mentions("@bobby", handle: "bob"))
        #expect(!PushAudience.mentions("@bob.smith", handle: "bob"))
        #expect(!PushAudience.mentions("mail bob@bob.com", handle: "bob"))
        #expect(!PushAudience.mentions("bob", handle: "bob"))
        #expect(!PushAudience.mentions("@bob", handle: nil))
    }

    @Test func previews() {
        var direct = Self.message
        direct.isGroup = false
        direct.text = String(repeating: "x", count: 130)
        let full = PushContent.message(direct, badge: 2, preview: .full)
        #expect(full.title == "Ann" && full.body == String(repeating: "x", count: 120) + "…")
        #expect(full.senderName == "Ann" && full.senderId == 1)
        let generic = PushContent.message(Self.message, badge: 2, preview: .generic)
        #expect(generic.title == "Climbing" && generic.body == "Ann: New message")
        let none = PushContent.message(Self.message, badge: 2, preview: .none)
        #expect(none.title == "New message" && none.body == "" && none.senderName == nil && none.senderId == nil)
        #expect(none.conversationId == 9 && none.seq == 5 && none.badge == 2)
        var photo = direct
        photo.text = ""
        photo.attachmentKind = "image"
        #expect(PushContent.message(photo, badge: 0, preview: .full).body == "sent a photo")
    }
}

/// A vendor that refuses the credentials fails until a probe succeeds; only one probe per interval goes out.
@Suite struct ProviderHealthTests {
    @Test func failingThenProbedBackToHealthy() {
        var health = ProviderHealth(probeInterval: 1000)
        var admitted = health.admit(now: 0)
        #expect(health.state == .unknown && admitted)
        health.record(.delivered, now: 10)
        #expect(health.state == .healthy(since: 10))
        health.record(.retry(afterSeconds: nil, reason: "503"), now: 20)
        #expect(health.state == .healthy(since: 10), "a vendor's hiccup says nothing of the credentials")
        health.record(.credentialsRejected(reason: "401"), now: 30)
        #expect(health.state == .failing(reason: "401", since: 30))
        let early = [health.admit(now: 31), health.admit(now: 1029)]
        #expect(early == [false, false])
        admitted = health.admit(now: 1030)
        #expect(admitted, "the probe")
        admitted = health.admit(now: 1031)
        #expect(!admitted, "one probe per interval")
        health.record(.credentialsRejected(reason: "still 401"), now: 1040)
        #expect(health.state == .failing(reason: "still 401", since: 30))
        admitted = health.admit(now: 2040)
        #expect(admitted)
        health.record(.targetGone(reason: "410"), now: 2050)
        admitted = health.admit(now: 2051)
        #expect(health.state == .healthy(since: 2050) && admitted)
    }

    @Test func unusableCredentialsNeverProbe() {
        var health = ProviderHealth.unusable("cannot read the key", now: 5)
        let admitted = health.admit(now: .max - 1)
        #expect(health.isFailing && !admitted)
    }
}

/// What a delivery attempt leaves behind: gone targets removed, retries after the backoff or `Retry-After`.
@Suite struct PushBatchTests {
    static func item(_ id: Int64) -> PushBatch.Item {
        PushBatch.Item(targetId: id, userId: 1, content: .test(badge: 0))
    }

    @Test func settles() throws {
        let batch = PushBatch(items: (1...6).map(Self.item), attempt: 2)
        func attempt(_ id: Int64, _ outcome: PushOutcome, _ vendor: String = "fcm") -> PushBatch.Attempt {
            PushBatch.Attempt(item: Self.item(id), outcome: outcome, vendor: vendor)
        }
        let settled = try batch.settle(
            [
                attempt(1, .delivered), attempt(2, .targetGone(reason: "410")),
                attempt(3, .retry(afterSeconds: 120, reason: "503")), attempt(4, .rejected(reason: "413")),
                attempt(5, .retry(afterSeconds: nil, reason: "reset"), "https://push.example"),
            ], unsent: [Self.item(6)], now: 1_000_000, backoffUntil: 1_004_000)
        #expect(settled.removeTargets == [2])
        #expect(settled.retries.count == 3, "one retry per vendor, and the unsent items")
        let retry = try #require(settled.retries.first)
        #expect(retry.kind == "push.deliver" && retry.queue == "push")
        #expect(retry.runAt == Millis(1_120_000), "Retry-After is later than the backoff")
        let next = try ChatJSON.decoder().decode(PushBatch.self, from: Data(retry.payload.utf8))
        #expect(next == PushBatch(items: [Self.item(3)], attempt: 3))

        let other = try ChatJSON.decoder().decode(PushBatch.self, from: Data(settled.retries[1].payload.utf8))
        #expect(other == PushBatch(items: [Self.item(5)], attempt: 3))
        #expect(settled.retries[1].runAt == Millis(1_004_000), "another vendor's Retry-After does not hold it")
        let carried = try ChatJSON.decoder().decode(PushBatch.self, from: Data(settled.retries[2].payload.utf8))
        #expect(carried == PushBatch(items: [Self.item(6)], attempt: 2), "not sent is not an attempt")
        #expect(settled.retries[2].runAt == nil)

        let soon = try batch.settle([attempt(3, .retry(afterSeconds: 1, reason: "429"))], now: 0, backoffUntil: 4000)
        #expect(soon.retries.first?.runAt == Millis(4000), "the backoff is later than Retry-After")
        let spent = try batch.settle([attempt(3, .retry(afterSeconds: nil, reason: "503"))], now: 0, backoffUntil: nil)
        #expect(spent.retries.isEmpty && spent.removeTargets.isEmpty)
    }

    @Test func batchesOfFifty() throws {
        let recipients = (1...3).map { user in
            PushAudience.Recipient(
                userId: UserID(user), content: .test(badge: user),
                targets: (0..<40).map { PushAudienceTests.target(Int64(user * 100 + $0), user: UserID(user)) })
        }
        let jobs = try PushBatch.jobs(for: recipients)
        #expect(jobs.count == 3)
        let sizes = jobs.map { (try? ChatJSON.decoder().decode(PushBatch.self, from: Data($0.payload.utf8)))?.items.count }
        #expect(sizes == [50, 50, 20])
    }
}
