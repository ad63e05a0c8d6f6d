import ChatConfiguration
import Logging
import Synchronization

/// The level each subsystem logs at, from `[log]`: `level` for all, `log.<subsystem>` for one. Handlers read it on
/// every call, so a reload changes it for every logger at once.
public final class LogLevels: Sendable {
    private let state: Mutex<(all: Logger.Level, bySubsystem: [String: Logger.Level])>

    public init(_ config: ChatConfig.Log) {
        state = Mutex(Self.levels(config))
    }

    public func update(_ config: ChatConfig.Log) {
        state.withLock { $0 = Self.levels(config) }
    }

    /// The level for a logger labelled `chatd.<subsystem>` (or anything else: the general level).
    func level(label: String) -> Logger.Level {
        state.withLock { state in
            guard label.hasPrefix("chatd.") else { return state.all }
            return state.bySubsystem[String(label.dropFirst(6))] ?? state.all
        }
    }

    private static func levels(_ config: ChatConfig.Log) -> (Logger.Level, [String: Logger.Level]) {
        (
            Logger.Level(rawValue: config.level) ?? .info,
            config.subsystems.compactMapValues { Logger.Level(rawValue: $0) }
        )
    }
}

extension Logger {
    /// A logger for one of chatd's subsystems (`ChatConfig.Log.subsystems`): labelled `chatd.<name>`, so its level
    /// is the subsystem's; other handlers (a test's) are kept as they are.
    func subsystem(_ name: String) -> Logger {
        let label = "chatd.\(name)"
        let handler = (self.handler as? ChatLogHandler)?.relabelled(label) ?? self.handler
        return Logger(label: label, factory: { _ in handler })
    }
}
