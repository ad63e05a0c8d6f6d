import ChatCore
import Synchronization

/// What the gateway counts for `/metrics` and `chatctl stats`: frames each way, bytes sent, how long each fan-out of
/// a committed batch took (encoding its frames once and handing them to every recipient's event loop) and how long
/// each authenticated session lasted, the last two reported to observers.
public final class RealtimeStats: Sendable {
    public let framesReceived = Atomic<Int>(0)
    public let framesSent = Atomic<Int>(0)
    /// Payload bytes of the frames sent.
    public let bytesSent = Atomic<Int>(0)
    private let fanoutObserver = ObserverSlot<Duration>()
    private let sessionObserver = ObserverSlot<Duration>()

    public init() {}

    /// Set once at start-up by whoever exports the figures.
    public func observeFanout(_ observer: @escaping @Sendable (Duration) -> Void) {
        fanoutObserver.set(observer)
    }

    /// Set once at start-up: told the length of each authenticated session when its socket closes.
    public func observeSessions(_ observer: @escaping @Sendable (Duration) -> Void) {
        sessionObserver.set(observer)
    }

    func sessionEnded(after duration: Duration) {
        sessionObserver(duration)
    }

    func fannedOut(in duration: Duration) {
        fanoutObserver(duration)
    }
}
