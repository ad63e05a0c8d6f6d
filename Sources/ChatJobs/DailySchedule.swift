import ChatCore
import Foundation

/// A job that runs once a day at a wall-clock time in a time zone (cleanup at 03:30 local time). The next time is
/// computed from the calendar, so it stays at 03:30 across daylight-saving changes; on a day when that time does
/// not exist (clocks skipped it) it runs at the first moment after.
public struct DailySchedule: Sendable, Equatable {
    public var name: String
    public var hour: Int
    public var minute: Int
    public var timeZone: TimeZone
    public var job: Job

    public init(name: String, hour: Int, minute: Int, timeZone: TimeZone, job: Job) {
        self.name = name
        self.hour = hour
        self.minute = minute
        self.timeZone = timeZone
        self.job = job
    }

    /// Reads "HH:MM" (24-hour clock).
    public init?(name: String, time: String, timeZone: TimeZone, job: Job) {
        let parts = time.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 && $0.isDecimalDigits }),
            let hour = Int(parts[0]), let minute = Int(parts[1]), hour < 24, minute < 60
        else { return nil }
        self.init(name: name, hour: hour, minute: minute, timeZone: timeZone, job: job)
    }

    /// What the stored next time was computed from: when it changes (another time or zone), the next time is
    /// computed afresh instead of firing.
    public var spec: String {
        "daily \(hour < 10 ? "0" : "")\(hour):\(minute < 10 ? "0" : "")\(minute) \(timeZone.identifier)"
    }

    /// The first time strictly after `after` at which the schedule is due: that day's time if it is still ahead,
    /// else the next day's. Once per calendar day, even on the night a repeated hour holds the time twice.
    public func next(after: Millis) -> Millis {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let instant = Date(timeIntervalSince1970: Double(after) / 1000)
        var day = calendar.startOfDay(for: instant)
        for _ in 0..<3 {
            if let candidate = calendar.date(
                bySettingHour: hour, minute: minute, second: 0, of: day, matchingPolicy: .nextTime,
                repeatedTimePolicy: .first, direction: .forward), candidate > instant
            {
                return Millis((candidate.timeIntervalSince1970 * 1000).rounded())
            }
            guard let following = calendar.date(byAdding: .day, value: 1, to: day) else { break }
            day = following
        }
        return after + 86_400_000
    }
}
