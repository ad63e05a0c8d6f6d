import ChatCore
import Foundation
import Testing

@testable import ChatJobs

@Suite struct DailyScheduleTests {
    func millis(_ text: String) -> Millis {
        let formatter = ISO8601DateFormatter()
        return Millis(formatter.date(from: text)!.timeIntervalSince1970 * 1000)
    }

    func schedule(_ time: String, _ zone: String) -> DailySchedule {
        DailySchedule(name: "cleanup", time: time, timeZone: TimeZone(identifier: zone)!, job: .dailyCleanup)!
    }

    @Test func nextIsTheWallClockTimeInItsZone() {
        let berlin = schedule("03:30", "Europe/Berlin")
        // Winter (UTC+1).
        #expect(berlin.next(after: millis("2026-01-10T12:00:00Z")) == millis("2026-01-11T02:30:00Z"))
        #expect(berlin.next(after: millis("2026-01-10T01:00:00Z")) == millis("2026-01-10T02:30:00Z"))
        // Summer (UTC+2), and strictly after: at the very time, the next day.
        #expect(berlin.next(after: millis("2026-07-10T01:30:00Z")) == millis("2026-07-11T01:30:00Z"))
    }

    @Test func keepsItsTimeAcrossDaylightSavingChanges() {
        let berlin = schedule("03:30", "Europe/Berlin")
        // The clocks go forward on 29 March 2026 (02:00 → 03:00): 03:30 exists, at UTC+2.
        #expect(berlin.next(after: millis("2026-03-28T12:00:00Z")) == millis("2026-03-29T01:30:00Z"))
        // 02:30 does not exist that night: the first moment after, 03:00 CEST.
        let skipped = schedule("02:30", "Europe/Berlin")
        let next = skipped.next(after: millis("2026-03-28T12:00:00Z"))
        #expect(next >= millis("2026-03-29T01:00:00Z") && next <= millis("2026-03-29T01:30:00Z"))
        // Back on 25 October (03:00 → 02:00): 02:30 happens twice; the schedule runs once, at the first.
        #expect(skipped.next(after: millis("2026-10-24T12:00:00Z")) == millis("2026-10-25T00:30:00Z"))
        #expect(skipped.next(after: millis("2026-10-25T00:30:00Z")) == millis("2026-10-26T01:30:00Z"))
    }

    @Test func readsOnlyHoursAndMinutes() {
        let zone = TimeZone.gmt
        #expect(DailySchedule(name: "x", time: "00:00", timeZone: zone, job: .dailyCleanup) != nil)
        #expect(DailySchedule(name: "x", time: "23:59", timeZone: zone, job: .dailyCleanup)?.spec == "daily 23:59 GMT")
        for bad in ["24:00", "3:30", "03:60", "0330", "03:30:00", "+3:30", "", "ab:cd"] {
            #expect(DailySchedule(name: "x", time: bad, timeZone: zone, job: .dailyCleanup) == nil, "\(bad)")
        }
    }
}
