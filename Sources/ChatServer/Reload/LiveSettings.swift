import ChatConfiguration
import Synchronization

/// The configuration as the running daemon has it: the start's, with each reload's reloadable parts over it. Code
/// that honours a reload reads from here, not from the configuration it was built with.
final class LiveSettings: Sendable {
    private let state: Mutex<ChatConfig>

    init(_ config: ChatConfig) {
        state = Mutex(config)
    }

    var current: ChatConfig { state.withLock { $0 } }

    func replace(_ config: ChatConfig) {
        state.withLock { $0 = config }
    }
}
