import Synchronization

/// A callback set once at start-up and called often, from any thread: how a component reports figures (commit
/// durations, fan-outs, push outcomes) to whoever exports them.
///
/// Why not a closure in a `Mutex`: a function value read with `mutex.withLock { $0 }` is written back through the
/// `inout`, and each read-and-write-back wraps it in one more reabstraction thunk. After n calls a call runs through n
/// thunks: measured here at 0.14 ms per call after 20,000 calls and 1.8 ms after 120,000, growing without end. The
/// slot keeps the closure in a class, so the lock only ever copies a reference.
public final class ObserverSlot<Value: Sendable>: Sendable {
    private final class Box: Sendable {
        let body: @Sendable (Value) -> Void
        init(_ body: @escaping @Sendable (Value) -> Void) { self.body = body }
    }

    private let slot = Mutex<Box?>(nil)

    public init() {}

    /// Replaces the callback.
    public func set(_ body: @escaping @Sendable (Value) -> Void) {
        let box = Box(body)
        slot.withLock { $0 = box }
    }

    /// Calls the callback, if one is set.
    public func callAsFunction(_ value: Value) {
        slot.withLock { $0 }?.body(value)
    }
}
