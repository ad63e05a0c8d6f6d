import ChatCore
import Foundation
import Synchronization

/// Days in the server's time zone (`jobs.time_zone`), named `YYYY-MM-DD`.
struct UsageCalendar: Sendable {
    let timeZone: TimeZone

    /// The day holding `time`: its name, and the moments it starts (midnight) and ends.
    func day(of time: Millis) -> (name: String, startsAt: Millis, endsAt: Millis) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let date = Date(timeIntervalSince1970: Double(time) / 1000)
        let start = calendar.startOfDay(for: date)
        let end = calendar.date(byAdding: .day, value: 1, to: start) ?? start.addingTimeInterval(86_400)
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        let name = String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
        return (name, Millis(start.timeIntervalSince1970 * 1000), Millis(end.timeIntervalSince1970 * 1000))
    }

    /// The names of the `count` days ending with the one holding `time`, oldest first.
    func days(_ count: Int, endingAt time: Millis) -> [String] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let today = calendar.startOfDay(for: Date(timeIntervalSince1970: Double(time) / 1000))
        return (0..<max(1, count)).reversed().map { back in
            let date = calendar.date(byAdding: .day, value: -back, to: today) ?? today
            // Noon of that day: clear of any daylight-saving shift at midnight.
            return day(of: Millis(date.timeIntervalSince1970 * 1000) + 12 * 3_600_000).name
        }
    }
}

/// Counts the day's use as it happens — messages, uploads, WebSocket sessions and their length, bytes sent, users
/// active — and hands it over as deltas for the store (`UsageRecorder` writes them every minute). A user is handed
/// over once a day; a count that could not be written is put back.
final class UsageMeter: Sendable {
    private struct State {
        var today: String
        var todayEndsAt: Millis
        var pending: [String: UsageDelta] = [:]
        /// Users handed over today already.
        var seenToday: Set<UserID> = []
    }

    let calendar: UsageCalendar
    private let state: Mutex<State>

    init(timeZone: TimeZone, now: Millis = Clock.nowMillis()) {
        calendar = UsageCalendar(timeZone: timeZone)
        let today = calendar.day(of: now)
        state = Mutex(State(today: today.name, todayEndsAt: today.endsAt))
    }

    /// A user signed in, called the API or connected.
    func userActive(_ user: UserID, now: Millis = Clock.nowMillis()) {
        update(now) { state in
            guard state.seenToday.insert(user).inserted else { return }
            state.pending[state.today, default: UsageDelta(day: state.today)].users.insert(user)
        }
    }

    func add(_ counts: UsageCounts, now: Millis = Clock.nowMillis()) {
        guard !counts.isZero else { return }
        update(now) { state in
            state.pending[state.today, default: UsageDelta(day: state.today)].counts =
                state.pending[state.today, default: UsageDelta(day: state.today)].counts + counts
        }
    }

    /// The day `now` falls in.
    func today(now: Millis = Clock.nowMillis()) -> String {
        update(now) { $0.today }
    }

    /// Everything counted since the last call, oldest day first.
    func take() -> [UsageDelta] {
        state.withLock { state in
            defer { state.pending = [:] }
            return state.pending.values.sorted { $0.day < $1.day }
        }
    }

    /// Deltas whose write failed, counted again for the next one.
    func putBack(_ deltas: [UsageDelta]) {
        state.withLock { state in
            for delta in deltas {
                var merged = state.pending[delta.day, default: UsageDelta(day: delta.day)]
                merged.counts = merged.counts + delta.counts
                merged.users.formUnion(delta.users)
                state.pending[delta.day] = merged
            }
        }
    }

    private func update<T>(_ now: Millis, _ body: (inout State) -> T) -> T {
        state.withLock { state in
            if now >= state.todayEndsAt {
                let today = calendar.day(of: now)
                (state.today, state.todayEndsAt) = (today.name, today.endsAt)
                state.seenToday = []
            }
            return body(&state)
        }
    }
}
