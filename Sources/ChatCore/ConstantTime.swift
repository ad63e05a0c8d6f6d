/// Compares two secrets (hashes, API keys) in time that depends only on their lengths, not on where they differ.
public func constantTimeEqual<A: Sequence<UInt8>, B: Sequence<UInt8>>(_ a: A, _ b: B) -> Bool {
    let x = Array(a)
    let y = Array(b)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for (left, right) in zip(x, y) { difference |= left ^ right }
    return difference == 0
}
