import Synchronization

/// Responses and server errors per minute over the last five minutes, for the error-rate alert.
final class ErrorRateWindow: Sendable {
    private let minutes = Mutex<[(minute: Int64, total: Int, errors: Int)]>([])

    func record(status: Int, atSecond second: Int64) {
        let minute = second / 60
        minutes.withLock { minutes in
            if minutes.last?.minute != minute {
                minutes.append((minute, 0, 0))
                minutes.removeAll { $0.minute <= minute - 5 }
            }
            minutes[minutes.count - 1].total += 1
            if status >= 500 { minutes[minutes.count - 1].errors += 1 }
        }
    }

    /// (responses, server errors) in the five minutes up to `second`.
    func lastFiveMinutes(atSecond second: Int64) -> (total: Int, errors: Int) {
        let minute = second / 60
        return minutes.withLock { minutes in
            minutes.filter { $0.minute > minute - 5 }.reduce((0, 0)) { ($0.0 + $1.total, $0.1 + $1.errors) }
        }
    }
}
