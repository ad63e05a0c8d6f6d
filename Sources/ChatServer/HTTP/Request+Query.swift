import ChatCore
import Hummingbird

/// Query-string parameters, with the same clear 400 as bodies when they are malformed.
extension Request {
    func query<T: LosslessStringConvertible>(_ name: String, as type: T.Type) throws -> T? {
        guard let raw = uri.queryParameters.get(name) else { return nil }
        // Swift reads "+5" as 5; the document's integers have no plus sign.
        guard !raw.hasPrefix("+"), let value = T(raw) else {
            throw ChatError.invalid("query parameter '\(name)' is not valid: '\(raw)'")
        }
        return value
    }
}
