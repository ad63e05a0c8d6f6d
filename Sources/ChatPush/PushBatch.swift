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
    public static func jobs(for recipients: [PushAudience.Recipient]) -> [Job] {
        let items = recipients.flatMap { recipient in
            recipient.targets.map { Item(targetId: $0.id, userId: recipient.userId, content: recipient.content) }
        }
        return stride(from: 0, to: items.count, by: size).map {
            PushBatch(items: Array(items[$0..<min($0 + size, items.count)])).job()
        }
    }

    public func job(runAt: Millis? = nil) -> Job {
        let payload = (try? ChatJSON.encoder().encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return Job(kind: Job.Kind.pushDeliver, queue: Job.Queue.notify, payload: payload, runAt: runAt)
    }

    /// What an attempt's outcomes call for: targets to remove, and a batch of what may be tried again.
    public struct Settlement: Sendable, Equatable {
        public var removeTargets: [Int64]
        public var retry: Job?
    }

    /// Targets reported gone are removed; what may be retried goes into the next attempt's batch, due after the
    /// backoff (`backoffUntil`, nil when attempts are spent) or the vendors' `Retry-After`, whichever is later.
    /// Everything else is done (delivered, or dropped for good).
    public func settle(
        _ outcomes: [(item: Item, outcome: PushOutcome)], now: Millis, backoffUntil: Millis?
    ) -> Settlement {
        var settlement = Settlement(removeTargets: [], retry: nil)
        var again: [Item] = []
        var retryAfter = 0
        for (item, outcome) in outcomes {
            switch outcome {
            case .targetGone:
                settlement.removeTargets.append(item.targetId)
            case .retry(let seconds, _):
                again.append(item)
                retryAfter = max(retryAfter, min(seconds ?? 0, Self.maxRetryAfterSeconds))
            case .delivered, .rejected, .credentialsRejected, .providerUnavailable:
                break
            }
        }
        if !again.isEmpty, let backoffUntil {
            let due = max(backoffUntil, now + Millis(retryAfter) * 1000)
            settlement.retry = PushBatch(items: again, attempt: attempt + 1).job(runAt: due)
        }
        return settlement
    }
}
