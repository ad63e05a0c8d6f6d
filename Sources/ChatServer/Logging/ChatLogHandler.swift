import ChatConfiguration
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// chatd's log lines on standard output, for journald: logfmt by default (`time=… level=info subsystem=http
/// msg="…" key=value`), one JSON object per line with `log.format = "json"`. The level comes from `LogLevels` on
/// every call, so a reload applies at once.
public struct ChatLogHandler: LogHandler {
    public enum Format: String, Sendable {
        case logfmt, json
    }

    public let label: String
    let format: Format
    let levels: LogLevels
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init(label: String, format: Format, levels: LogLevels) {
        self.label = label
        self.format = format
        self.levels = levels
    }

    /// Installs chatd's handler for every logger of the process.
    public static func bootstrap(_ config: ChatConfig.Log) -> LogLevels {
        let levels = LogLevels(config)
        let format = Format(rawValue: config.format) ?? .logfmt
        LoggingSystem.bootstrap { label in ChatLogHandler(label: label, format: format, levels: levels) }
        return levels
    }

    func relabelled(_ label: String) -> ChatLogHandler {
        var copy = ChatLogHandler(label: label, format: format, levels: levels)
        copy.metadata = metadata
        copy.metadataProvider = metadataProvider
        return copy
    }

    public var logLevel: Logger.Level {
        get { levels.level(label: label) }
        set {}  // set by configuration (`[log]`), not by code
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { $1 } }
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let subsystem = label.hasPrefix("chatd.") ? String(label.dropFirst(6)) : label
        let line = LogLine(
            time: Date(), level: event.level, subsystem: subsystem, message: "\(event.message)",
            fields: fields.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") })
        Self.write(format == .json ? line.json : line.logfmt)
    }

    private static let output = Mutex(())

    private static func write(_ line: String) {
        output.withLock { _ in
            var text = line
            text.append("\n")
            text.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Glibc.write(1, bytes.baseAddress! + offset, bytes.count - offset)
                    if written <= 0 {
                        if written < 0 && errno == EINTR { continue }
                        return
                    }
                    offset += written
                }
            }
        }
    }
}

/// One log line, and its two spellings.
struct LogLine {
    var time: Date
    var level: Logger.Level
    var subsystem: String
    var message: String
    var fields: [(String, String)]

    var timestamp: String {
        time.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: true)
            .timeSeparator(.colon).timeZone(separator: .omitted))
    }

    var logfmt: String {
        var out = "time=\(timestamp) level=\(level.rawValue) subsystem=\(Self.logfmtValue(subsystem)) msg=\(Self.quoted(message))"
        for (key, value) in fields {
            out += " \(Self.logfmtKey(key))=\(Self.logfmtValue(value))"
        }
        return out
    }

    var json: String {
        var out = "{\"time\":\(Self.jsonString(timestamp)),\"level\":\(Self.jsonString(level.rawValue))"
        out += ",\"subsystem\":\(Self.jsonString(subsystem)),\"msg\":\(Self.jsonString(message))"
        for (key, value) in fields where !["time", "level", "subsystem", "msg"].contains(key) {
            out += ",\(Self.jsonString(key)):\(Self.jsonString(value))"
        }
        return out + "}"
    }

    /// A bare value when it has no space, quote or equals sign; quoted and escaped otherwise.
    static func logfmtValue(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0.value != 0x7F }
        return plain ? value : quoted(value)
    }

    static func logfmtKey(_ key: String) -> String {
        String(key.unicodeScalars.map { $0.value > 0x20 && $0 != "\"" && $0 != "=" ? Character($0) : "_" })
    }

    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func jsonString(_ value: String) -> String { quoted(value) }
}
