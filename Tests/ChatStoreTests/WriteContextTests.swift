import ChatCore
import Foundation
import GRDB
import Synchronization
import Testing

@testable import ChatStore

/// A write's events and jobs leave with its commit and only then: a write that fails — alone, or after changing rows
/// so that its batch is rolled back and run again without it — leaves neither.
@Suite struct WriteContextTests {
    final class Recorder: EventPublisher, JobPublisher {
        let events = Mutex<[Event]>([])
        let jobs = Mutex<[Job]>([])
        func publish(_ events: [Event]) { self.events.withLock { $0 += events } }
        func publish(_ jobs: [Job]) { self.jobs.withLock { $0 += jobs } }
    }

    @Test func jobsAndEventsArePublishedOnlyForWritesThatCommit() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chatd-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Store(directory: directory)
        defer { try? store.close() }
        let recorder = Recorder()
        store.setEventPublisher(recorder)
        store.setJobPublisher(recorder)
        let alice = try await store.accounts.createUser(handle: "alice", displayName: "A", passwordHash: nil).id
        let bob = try await store.accounts.createUser(handle: "bob", displayName: "B", passwordHash: nil).id
        let (direct, _) = try await store.conversations.openDirect(user: alice, peer: bob)
        let eventsBefore = recorder.events.withLock { $0.count }

        let refusals = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<40 {
                group.addTask {
                    do {
                        try await store.database.write { context in
                            try context.enqueue(
                                Job(kind: "test", queue: "notify", key: "\(direct.id)", payload: "{\"n\":\(index)}"),
                                at: 1)
                            try context.append(
                                .conversationSettings, conversationId: direct.id, audience: alice,
                                storedData: "{\"muted\":false}", at: 1)
                            if index % 10 == 3 {
                                // Fails after changing a row: the batch is rolled back and run again without it.
                                throw ChatError.invalid("refused \(index)")
                            }
                        }
                        return false
                    } catch {
                        return true
                    }
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(refusals == 4)
        let published = recorder.jobs.withLock { $0 }
        let expected = (0..<40).filter { $0 % 10 != 3 }.map { "{\"n\":\($0)}" }
        #expect(published.map(\.payload).sorted() == expected.sorted(), "each committed write's job once, no other")
        #expect(published.allSatisfy { $0.queue == "notify" && $0.key == "\(direct.id)" })
        let events = recorder.events.withLock { Array($0.dropFirst(eventsBefore)) }
        #expect(events.count == 36)
        let stored = try await store.database.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE type = 13") ?? 0
        }
        #expect(stored == 36, "the refused writes' event rows were rolled back")
        let rows = try await store.database.read { db in
            try String.fetchAll(db, sql: "SELECT payload FROM jobs WHERE kind = 'test'")
        }
        #expect(rows.sorted() == expected.sorted(), "the refused writes' job rows were rolled back")
    }
}
