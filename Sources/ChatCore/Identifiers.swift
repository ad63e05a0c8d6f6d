#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Row ids of the store, exposed to clients as JSON numbers.
public typealias UserID = Int64
public typealias ConversationID = Int64
public typealias MessageID = Int64
public typealias SessionID = Int64
/// A message's position in its conversation: 1, 2, 3, … without gaps.
public typealias Seq = Int64
/// A position in the one global, strictly increasing event log.
public typealias EventCursor = Int64

extension StringProtocol {
    /// One or more ASCII digits and nothing else (no sign, no space): how ids and cursors are written in paths and
    /// page keys. Swift's integer parsing alone would take "+5".
    public var isDecimalDigits: Bool {
        !isEmpty && utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}

/// Milliseconds since the Unix epoch: the one time representation in the store and on the wire.
public typealias Millis = Int64

public enum Clock {
    public static func nowMillis() -> Millis {
        Millis((Date().timeIntervalSince1970 * 1000).rounded())
    }
}

/// The version of chatd, as `chatd --version`, `chatctl version` and the admin API report it.
public enum ChatdVersion {
    public static let current = "0.19.0-dev"
}
