/// The one error type of chatd's domain.
///
/// Every failure a client can cause or see is a `ChatError`: a stable machine-readable `code` (which also fixes the
/// HTTP status it is answered with), a human-readable `message` that says precisely what was wrong, and, for rate
/// limits, how long to wait. The server turns it into `{"error":{"code":…,"message":…}}` in exactly one place.
public struct ChatError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        /// The HTTP status this code is answered with (WebSocket replies reuse it, Tinode-style).
        public let status: Int

        public init?(rawValue: String) {
            guard let known = Self.all.first(where: { $0.rawValue == rawValue }) else { return nil }
            self = known
        }

        init(_ rawValue: String, status: Int) {
            self.rawValue = rawValue
            self.status = status
        }

        public var description: String { rawValue }

        public static let invalidRequest = Code("invalid_request", status: 400)
        public static let invalidCode = Code("invalid_code", status: 400)
        public static let unauthorized = Code("unauthorized", status: 401)
        public static let tokenExpired = Code("token_expired", status: 401)
        public static let forbidden = Code("forbidden", status: 403)
        public static let blocked = Code("blocked", status: 403)
        public static let notFound = Code("not_found", status: 404)
        public static let methodNotAllowed = Code("method_not_allowed", status: 405)
        public static let conflict = Code("conflict", status: 409)
        public static let handleTaken = Code("handle_taken", status: 409)
        public static let groupFull = Code("group_full", status: 409)
        public static let requestTimeout = Code("request_timeout", status: 408)
        public static let resetRequired = Code("reset_required", status: 410)
        public static let payloadTooLarge = Code("payload_too_large", status: 413)
        public static let quotaExceeded = Code("quota_exceeded", status: 413)
        public static let rangeNotSatisfiable = Code("range_not_satisfiable", status: 416)
        public static let unsupportedMediaType = Code("unsupported_media_type", status: 415)
        public static let upgradeRequired = Code("upgrade_required", status: 426)
        public static let rateLimited = Code("rate_limited", status: 429)
        public static let headersTooLarge = Code("headers_too_large", status: 431)
        public static let internalError = Code("internal", status: 500)
        public static let unavailable = Code("unavailable", status: 503)

        public static let all: [Code] = [
            .invalidRequest, .invalidCode, .unauthorized, .tokenExpired, .forbidden, .blocked, .notFound,
            .methodNotAllowed, .requestTimeout, .conflict, .handleTaken, .groupFull, .resetRequired, .payloadTooLarge,
            .quotaExceeded, .unsupportedMediaType, .rangeNotSatisfiable, .upgradeRequired, .rateLimited, .headersTooLarge, .internalError, .unavailable,
        ]
    }

    public var code: Code
    public var message: String
    /// Seconds a client should wait before retrying (rate limits only).
    public var retryAfter: Int?

    public init(_ code: Code, _ message: String, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func invalid(_ message: String) -> ChatError { ChatError(.invalidRequest, message) }
    public static func notFound(_ what: String) -> ChatError { ChatError(.notFound, "\(what) not found") }
    public static func forbidden(_ message: String) -> ChatError { ChatError(.forbidden, message) }
    public static let unauthorized = ChatError(.unauthorized, "missing or invalid credentials")
}
