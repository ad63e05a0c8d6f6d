import ChatCore
import Hummingbird

extension Parameters {
    /// A path parameter that must be a positive integer id; anything else is a 404 (no such thing), not a 500.
    func id(_ name: String, _ what: String) throws -> Int64 {
        guard let raw = get(name), let value = Int64(raw), value > 0 else {
            throw ChatError.notFound(what + " '\(get(name) ?? "")'")
        }
        return value
    }
}
