extension Duration {
    /// The duration in seconds, fractions included (for APIs that take a `TimeInterval`-like `Double`).
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
