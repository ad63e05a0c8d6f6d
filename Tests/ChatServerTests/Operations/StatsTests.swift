import ChatAdmin
import ChatCore
import Foundation
import Testing

@testable import ChatServer

/// `chatctl stats`: the meter's days as values (a clock passed in, no waiting), the headroom's arithmetic, and the
/// command against a live daemon after real traffic.
@Suite struct StatsTests {
    static let utc = TimeZone(identifier: "UTC")!
    /// 2026-12-03T10:00:00Z
    static let morning: Millis = 1_796_292_000_000
    static let hour: Millis = 3_600_000

    @Test func theMeterHandsOverEachDayAndEachUserOnceADay() {
        let meter = UsageMeter(timeZone: Self.utc, now: Self.morning)
        meter.userActive(1, now: Self.morning)
        meter.userActive(1, now: Self.morning + 1)
        meter.add(UsageCounts(messages: 2), now: Self.morning)
        #expect(meter.take() == [UsageDelta(day: "2026-12-03", counts: UsageCounts(messages: 2), users: [1])])
        #expect(meter.take() == [])
        meter.userActive(1, now: Self.morning + Self.hour)
        #expect(meter.take() == [], "user 1 was handed over today already")

        // Past midnight: a new day, and user 1 counts again.
        meter.add(UsageCounts(uploads: 1), now: Self.morning + Self.hour)
        let tomorrow = Self.morning + 15 * Self.hour
        meter.userActive(1, now: tomorrow)
        meter.add(UsageCounts(sessions: 1, sessionSeconds: 90), now: tomorrow)
        let both = meter.take()
        #expect(both.map(\.day) == ["2026-12-03", "2026-12-04"])
        #expect(both[0].counts == UsageCounts(uploads: 1))
        #expect(both[1] == UsageDelta(day: "2026-12-04", counts: UsageCounts(sessions: 1, sessionSeconds: 90), users: [1]))

        // A failed write puts its deltas back, merged with what came since.
        meter.putBack(both)
        meter.add(UsageCounts(messages: 1), now: tomorrow)
        let again = meter.take()
        #expect(again[1].counts == UsageCounts(messages: 1, sessions: 1, sessionSeconds: 90))
        #expect(meter.today(now: tomorrow) == "2026-12-04")
    }

    @Test func daysFollowTheConfiguredTimeZone() {
        let tokyo = UsageCalendar(timeZone: TimeZone(identifier: "Asia/Tokyo")!)
        // 10:00 UTC is 19:00 in Tokyo; 16:00 UTC is already the next day there.
        #expect(tokyo.day(of: Self.morning).name == "2026-12-03")
        #expect(tokyo.day(of: Self.morning + 6 * Self.hour).name == "2026-12-04")
        #expect(UsageCalendar(timeZone: Self.utc).days(3, endingAt: Self.morning) == ["2026-12-01", "2026-12-02", "2026-12-03"])
    }

    static func inputs(_ adjust: (inout HeadroomInputs) -> Void = { _ in }) -> HeadroomInputs {
        var inputs = HeadroomInputs(
            now: morning, connections: 10, maxOpenFiles: 20_000, residentBytes: 60 << 20,
            baselineResidentBytes: 40 << 20, memoryBytes: 2 << 30, memoryLimitPercent: 85, diskUsedBytes: 50 << 30,
            diskTotalBytes: 100 << 30, diskWarningPercent: 80, firstDisk: nil, lastDisk: nil)
        adjust(&inputs)
        return inputs
    }

    @Test func headroomTakesTheTighterLimitAndMeasuresOnceEnoughAreConnected() {
        let calendar = UsageCalendar(timeZone: Self.utc)
        let few = Headroom.estimate(Self.inputs(), calendar: calendar)
        #expect(!few.bytesPerConnectionMeasured)
        #expect(few.bytesPerConnection == Headroom.typicalBytesPerConnection)
        #expect(few.connectionsByFiles == 20_000 - Headroom.filesBesidesSockets)
        // 85 % of 2 GiB less 60 MiB resident, at 10 KiB a connection.
        let spare = (Int64(2 << 30) * 85 / 100 - (60 << 20)) / Headroom.typicalBytesPerConnection
        #expect(few.connectionsByMemory == 10 + Int(spare))
        #expect(few.maxConnections == few.connectionsByFiles, "the file limit binds first here")

        // On 1 GiB, 4,000 connections grew the process by 200 MiB: 51.2 KiB each, and memory binds.
        let many = Headroom.estimate(
            Self.inputs { $0.connections = 4_000; $0.residentBytes = 240 << 20; $0.memoryBytes = 1 << 30 },
            calendar: calendar)
        #expect(many.bytesPerConnectionMeasured)
        #expect(many.bytesPerConnection == (200 << 20) / 4_000)
        #expect(many.maxConnections == many.connectionsByMemory)
        #expect(many.connectionsByMemory < many.connectionsByFiles)
    }

    @Test func theDiskWarningDateFollowsTheRecentGrowth() {
        let calendar = UsageCalendar(timeZone: Self.utc)
        let unknown = Headroom.estimate(Self.inputs(), calendar: calendar)
        #expect(unknown.diskGrowthBytesPerDay == nil)
        #expect(unknown.diskWarningDate == nil)

        // 2 GiB a day; 30 GiB left below 80 % of 100 GiB: 15 days.
        let growing = Headroom.estimate(
            Self.inputs {
                $0.firstDisk = DiskSample(at: Self.morning - 2 * 86_400_000, usedBytes: 46 << 30)
                $0.lastDisk = DiskSample(at: Self.morning, usedBytes: 50 << 30)
            }, calendar: calendar)
        #expect(growing.diskGrowthBytesPerDay == Double(2 << 30))
        #expect(growing.daysUntilDiskWarning == 15)
        #expect(growing.diskWarningDate == "2026-12-18")

        let shrinking = Headroom.estimate(
            Self.inputs {
                $0.firstDisk = DiskSample(at: Self.morning - 86_400_000, usedBytes: 51 << 30)
                $0.lastDisk = DiskSample(at: Self.morning, usedBytes: 50 << 30)
            }, calendar: calendar)
        #expect(shrinking.diskWarningDate == nil)

        let past = Headroom.estimate(Self.inputs { $0.diskUsedBytes = 90 << 30 }, calendar: calendar)
        #expect(past.daysUntilDiskWarning == 0)
        #expect(past.diskWarningDate == "2026-12-03")

        // Samples less than an hour apart give no rate.
        let early = Headroom.estimate(
            Self.inputs {
                $0.firstDisk = DiskSample(at: Self.morning - 60_000, usedBytes: 49 << 30)
                $0.lastDisk = DiskSample(at: Self.morning, usedBytes: 50 << 30)
            }, calendar: calendar)
        #expect(early.diskGrowthBytesPerDay == nil)
    }

    @Test func statsAgainstALiveDaemon() async throws {
        let config = mediaConfig { $0.jobs.timeZone = "UTC" }
        try await withServer(config) { api in
            let socket = try await adminSocket(config)
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let direct = try await api.direct(alice, with: bob)
            for index in 0..<3 { try await api.send(alice, direct, "hello \(index)") }
            _ = try await api.upload(alice, file: try MediaFixtures.transparentPNG(in: temporaryDirectory()), type: "image/png")
            let (bobSocket, _) = try await api.liveSocket(bob)
            await bobSocket.close()

            var today = JSON(data: Data())
            var stats = ChatctlTests.Run(status: 0, stdout: "", stderr: "")
            try await eventually {
                stats = try await ChatctlTests.chatctl(["stats", "--days", "2", "--json", "--socket", socket])
                today = stats.json["days"][1]
                return today["sessions"].int == 1
            }
            #expect(stats.status == 0, "\(stats.stderr)")
            #expect(stats.json["days"].array.count == 2)
            #expect(today["day"].string == UsageCalendar(timeZone: Self.utc).day(of: Clock.nowMillis()).name)
            #expect(today["active_users"].int == 2)
            #expect(today["messages"].int == 3)
            #expect(today["uploads"].int == 1)
            #expect((today["average_session_seconds"].double ?? -1) >= 0)
            #expect((today["egress_bytes"].int ?? 0) > 0)
            #expect(stats.json["days"][0]["messages"].int == 0, "yesterday had nothing")
            let headroom = stats.json["headroom"]
            #expect((headroom["max_open_files"].int ?? 0) > 0)
            #expect((headroom["max_connections"].int ?? 0) > 0)
            #expect((headroom["disk_total_bytes"].int ?? 0) > 0)

            // The table, for a person.
            let table = try await ChatctlTests.chatctl(["stats", "--socket", socket])
            #expect(table.stdout.contains("ACTIVE USERS"))
            #expect(table.stdout.contains("headroom"))
            let bad = try await ChatctlTests.chatctl(["stats", "--days", "0", "--socket", socket])
            #expect(bad.status == 64)
        }
    }
}
