import Synchronization

/// What the gateway counts for `/metrics`: frames each way, and how long each fan-out of a committed batch took
/// (encoding its frames once and handing them to every recipient's event loop), reported to an observer.
public final class RealtimeStats: Sendable {
    public let framesReceived = Atomic<Int>(0)
    public let framesSent = Atomic<Int>(0)
    private let fanoutObserver = Mutex<(@Sendable (Duration) -> Void)?>(nil)

    public init() {}

    /// Set once at start-up by whoever exports the figures.
    public func observeFanout(_ observer: @escaping @Sendable (Duration) -> Void) {
        fanoutObserver.withLock { $0 = observer }
    }

    func fannedOut(in duration: Duration) {
        fanoutObserver.withLock { $0 }?(duration)
    }
}
