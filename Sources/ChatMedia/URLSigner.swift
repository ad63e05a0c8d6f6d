import ChatCore
import Crypto
import Foundation

/// Presigned URLs: an HMAC-SHA256, with a key of their own, over what the URL may do — the method, the object, its
/// size for an upload, and the expiry — so a URL cannot be stretched to another object, another size, another
/// method or past its time.
public struct URLSigner: Sendable {
    private let key: SymmetricKey

    /// Derives the URL key from the server's secret (tokens and URLs never share a key).
    public init(secret: String) {
        key = SymmetricKey(
            data: HMAC<SHA256>.authenticationCode(for: Data("chatd media urls".utf8), using: SymmetricKey(data: Data(secret.utf8))))
    }

    /// What a signature covers.
    public enum Grant: Sendable, Equatable {
        /// PUT (and HEAD, to ask how much arrived) of the bytes of one upload of exactly `size` bytes.
        case upload(id: String, size: Int64)
        /// GET of one variant of one media file.
        case download(media: Int64, variant: MediaVariant)

        var text: String {
            switch self {
            case .upload(let id, let size): "PUT\nupload\n\(id)\n\(size)"
            case .download(let media, let variant): "GET\nmedia\n\(media)\n\(variant.rawValue)"
            }
        }
    }

    public func signature(_ grant: Grant, expires: Int64) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data("\(grant.text)\n\(expires)".utf8), using: key)
        return Array(code).hexadecimal
    }

    public enum Verdict: Sendable, Equatable {
        case valid
        case expired
        case forged
    }

    /// Checks a signature in constant time, then its expiry against `now` (seconds since the epoch).
    public func verify(_ grant: Grant, expires: Int64, signature: String, now: Int64) -> Verdict {
        let expected = self.signature(grant, expires: expires)
        guard constantTimeEqual(expected.utf8, signature.utf8) else { return .forged }
        return now <= expires ? .valid : .expired
    }
}
