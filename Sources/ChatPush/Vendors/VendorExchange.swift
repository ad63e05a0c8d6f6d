import ChatCore
import Foundation

/// A request to a vendor, as a value: the vendors build them, the sender performs them.
public struct VendorRequest: Sendable, Equatable {
    public var url: String
    public var headers: [String: String]
    public var body: Data

    public init(url: String, headers: [String: String], body: Data) {
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// A vendor's answer: status, headers (names in lower case) and the start of its body.
public struct VendorResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String] = [:], body: Data = Data()) {
        self.status = status
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        self.body = body
    }

    /// `Retry-After` in seconds from `now`: a number of seconds, or an HTTP date (RFC 9110 §10.2.3).
    public func retryAfter(now: Millis) -> Int? {
        guard let value = headers["retry-after"]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Int(value), seconds >= 0 { return seconds }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return max(0, Int((date.timeIntervalSince1970 * 1000 - Double(now)) / 1000))
    }

    /// The body as text for a log line or `chatctl push test`, cut short.
    public var summary: String {
        let text = String(decoding: body.prefix(300), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ")
        return "\(status)" + (text.isEmpty ? "" : " " + text)
    }
}

/// What became of one notification to one target, as the vendor's answer says.
public enum PushOutcome: Sendable, Equatable {
    /// The vendor accepted it.
    case delivered
    /// Try again later (429, 5xx, a connection that failed); `afterSeconds` is the vendor's `Retry-After`.
    case retry(afterSeconds: Int?, reason: String)
    /// The target no longer exists (uninstalled app, expired subscription): remove it.
    case targetGone(reason: String)
    /// The vendor refused chatd's credentials: the provider fails until they are fixed.
    case credentialsRejected(reason: String)
    /// The vendor refused this notification for good (too large, malformed): drop it.
    case rejected(reason: String)
    /// Not sent: the vendor is not configured, or its credentials fail (`ProviderHealth`). Dropped, not retried.
    case providerUnavailable(reason: String)

    /// The `reason` label of `chatd_push_failed_total`: few values, whatever the vendor said.
    public var metricReason: String {
        switch self {
        case .delivered: "none"
        case .retry: "retry"
        case .targetGone: "target_gone"
        case .credentialsRejected: "credentials"
        case .rejected: "rejected"
        case .providerUnavailable: "provider_failing"
        }
    }

    public var detail: String {
        switch self {
        case .delivered: "delivered"
        case .retry(let after, let reason): "retry\(after.map { " after \($0) s" } ?? ""): \(reason)"
        case .targetGone(let reason): "target gone: \(reason)"
        case .credentialsRejected(let reason): "credentials rejected: \(reason)"
        case .rejected(let reason): "rejected: \(reason)"
        case .providerUnavailable(let reason): "not sent: \(reason)"
        }
    }
}
