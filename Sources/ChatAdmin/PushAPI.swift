import ChatCore

extension AdminAPI {
    /// `POST`: a test notification to every push target of a user, answered with each vendor's answer.
    public static func pushTest(_ reference: String) -> String { user(reference) + "/push-test" }
}

/// One push vendor as `chatctl status` shows it.
public struct PushProviderReport: Codable, Sendable, Equatable {
    /// "fcm", "apns" or "webpush".
    public var platform: String
    /// "off" (not configured), "unknown" (nothing sent yet), "ok" or "failing".
    public var state: String
    /// Why it fails (the vendor's answer, or the credentials' problem).
    public var reason: String?
    /// Since when it is in this state (absent for "off" and "unknown").
    public var since: Millis?
    /// Notifications this process sent to the vendor and that it accepted, and those that failed.
    public var sent: Int
    public var failed: Int

    public init(platform: String, state: String, reason: String? = nil, since: Millis? = nil, sent: Int = 0, failed: Int = 0) {
        self.platform = platform
        self.state = state
        self.reason = reason
        self.since = since
        self.sent = sent
        self.failed = failed
    }
}

/// `chatctl push test`'s answer: what each of the user's targets' vendor said.
public struct PushTestReport: Codable, Sendable, Equatable {
    public struct Result: Codable, Sendable, Equatable {
        public var targetId: Int64
        public var platform: String
        /// "delivered", "retry", "target_gone", "credentials", "rejected" or "provider_failing".
        public var outcome: String
        /// The outcome in words, with the vendor's reason.
        public var detail: String
        /// The vendor's status and the start of its body ("" when nothing was sent).
        public var answer: String
        /// Whether the target was removed because the vendor reported it gone.
        public var removed: Bool

        public init(targetId: Int64, platform: String, outcome: String, detail: String, answer: String, removed: Bool) {
            self.targetId = targetId
            self.platform = platform
            self.outcome = outcome
            self.detail = detail
            self.answer = answer
            self.removed = removed
        }
    }

    public var userId: UserID
    public var results: [Result]

    public init(userId: UserID, results: [Result]) {
        self.userId = userId
        self.results = results
    }
}
