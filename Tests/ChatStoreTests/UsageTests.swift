import ChatCore
import Foundation
import Testing

@testable import ChatStore

/// The daily usage rows: deltas add up, a user counts once a day, the day's first disk sample stays and its last moves.
@Suite struct UsageTests {
    @Test func deltasAddUpAndUsersCountOncePerDay() async throws {
        let store = try Store(directory: FileManager.default.temporaryDirectory.appendingPathComponent("usage-\(UUID())"))
        defer { try? store.close() }
        try await store.usage.record(
            [UsageDelta(day: "2026-12-02", counts: UsageCounts(messages: 5, egressBytes: 100), users: [1, 2])],
            disk: DiskSample(at: 1_000, usedBytes: 10), sampleDay: "2026-12-02")
        try await store.usage.record(
            [
                UsageDelta(day: "2026-12-02", counts: UsageCounts(messages: 1, sessions: 1, sessionSeconds: 30), users: [2]),
                UsageDelta(day: "2026-12-03", counts: UsageCounts(uploads: 2), users: [3]),
            ], disk: DiskSample(at: 2_000, usedBytes: 12), sampleDay: "2026-12-03")
        try await store.usage.record([], disk: DiskSample(at: 3_000, usedBytes: 15), sampleDay: "2026-12-03")

        let days = try await store.usage.days(from: "2026-12-01", through: "2026-12-03")
        #expect(days.map(\.day) == ["2026-12-02", "2026-12-03"])
        #expect(days[0].activeUsers == 2)
        #expect(days[0].counts == UsageCounts(messages: 6, sessions: 1, sessionSeconds: 30, egressBytes: 100))
        #expect(days[0].firstDisk == DiskSample(at: 1_000, usedBytes: 10))
        #expect(days[1].activeUsers == 1)
        #expect(days[1].counts == UsageCounts(uploads: 2))
        #expect(days[1].firstDisk == DiskSample(at: 2_000, usedBytes: 12))
        #expect(days[1].lastDisk == DiskSample(at: 3_000, usedBytes: 15))
        #expect(try await store.usage.days(from: "2026-12-03", through: "2026-12-03").count == 1)
    }
}
