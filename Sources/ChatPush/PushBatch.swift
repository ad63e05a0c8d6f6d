import ChatCore
import Foundation

/// The payload of a `push.deliver` job: notifications to send, each to one target, and which attempt this is.
/// The notify job enqueues them in batches; what a batch's attempt leaves to retry goes on in a new batch.
public struct PushBatch: Sendable, Equatable, Codable {
    public struct Item: Sendable, Equatable, Codable {
        public var targetId: Int64
        /// Whose notification it is: a target that no longer belongs to them is skipped.
        public var userId: UserID
        public var content: PushContent

        public init(targetId: Int64, userId: UserID, content: PushContent) {
            self.targetId = targetId
            self.userId = userId
            self.content = content
        }
    }

    public var items: [Item]
    /// 1 for the first attempt of these notifications.
    public var attempt: Int

    public init(items: [Item], attempt: Int = 1) {
        self.items = items
        self.attempt = attempt
    }

    /// Targets per batch: a batch's sends go out together, well within its job's lease.
    public static let size = 50
    /// The longest `Retry-After` honoured; a vendor asking for more is asked again after this.
    public static let maxRetryAfterSeconds = 3600

    /// The delivery jobs of the recipients' notifications, `size` targets each.
    public static func jobs(for recipients: [PushAudience.Recipient]) throws -> [Job] {
        let items = recipients.flatMap { recipient in
            recipient.targets.map { Item(targetId: $0.id, userId: recipient.userId, content: recipient.content) }
        }
        return try stride(from: 0, to: items.count, by: size).map {
            try PushBatch(items: Array(items[$0..<min($0 + size, items.count)])).job()
        }
    }

    public func job(runAt: Millis? = nil) throws -> Job {
        Job(
            kind: Job.Kind.pushDeliver, queue: Job.Queue.push,
            payload: String(decoding: try ChatJSON.encoder().encode(self), as: UTF8.self), runAt: runAt)
    }

    /// One item's attempt: what the vendor said, and which vendor (a platform, or a Web Push service's origin).
    public struct Attempt: Sendable, Equatable {
        public var item: Item
        public var outcome: PushOutcome
        public var vendor: String

        public init(item: Item, outcome: PushOutcome, vendor: String) {
            self.item = item
            self.outcome = outcome
            self.vendor = vendor
        }
    }

    /// What an attempt's outcomes call for: targets to remove, and the batches of what may be tried again.
    public struct Settlement: Sendable, Equatable {
        public var removeTargets: [Int64]
        public var retries: [Job]
    }

    /// Targets reported gone are removed; what may be retried goes into the next attempt's batch — one per vendor,
    /// due after the backoff (`backoffUntil`, nil when attempts are spent) or that vendor's `Retry-After`, whichever
    /// is later. Items the attempt never started (`unsent`: its time ran out) go on in a batch of the same attempt,
    /// due now. Everything else is done (delivered, or dropped for good).
    public func settle(_ attempts: [Attempt], unsent: [Item] = [], now: Millis, backoffUntil: Millis?) throws -> Settlement {
        var settlement = Settlement(removeTargets: [], retries: [])
        var again: [String: (items: [Item], retryAfter: Int)] = [:]
        for attempt in attempts {
            switch attempt.outcome {
            case .targetGone:
                settlement.removeTargets.append(attempt.item.targetId)
            case .retry(let seconds, _):
                var vendor = again[attempt.vendor] ?? ([], 0)
                vendor.items.append(attempt.item)
                vendor.retryAfter = max(vendor.retryAfter, min(seconds ?? 0, Self.maxRetryAfterSeconds))
                again[attempt.vendor] = vendor
            case .delivered, .rejected, .credentialsRejected, .providerUnavailable:
                break
            }
        }
        if let backoffUntil {
            for vendor in again.keys.sorted() {
                guard let (items, retryAfter) = again[vendor] else { continue }
                let due = max(backoffUntil, now + Millis(retryAfter) * 1000)
                settlement.retries.append(try PushBatch(items: items, attempt: attempt + 1).job(runAt: due))
            }
        }
        if !unsent.isEmpty {
            settlement.retries.append(try PushBatch(items: unsent, attempt: attempt).job())
        }
        return settlement
    }
}
