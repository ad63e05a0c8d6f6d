import ChatCore
import Hummingbird

extension Parameters {
    /// A path parameter that must be a positive integer id, in digits only (no sign); anything else is a 404 (no
    /// such thing), not a 500.
    func id(_ name: String, _ what: String) throws -> Int64 {
        guard let raw = get(name), raw.isDecimalDigits, let value = Int64(raw), value > 0 else {
            throw ChatError.notFound(what + " '\(get(name) ?? "")'")
        }
        return value
    }
}
