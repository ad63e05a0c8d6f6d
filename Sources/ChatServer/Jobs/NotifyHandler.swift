import ChatCore
import ChatJobs
import ChatPush
import Foundation

/// `notify.message`: decides who hears of a new message by push (`PushAudience`: not connected, not muted unless
/// mentioned, not blocking the sender, not superseded by a later message), records their notifications, and
/// enqueues the deliveries to their devices in `push.deliver` batches — in the transaction that finishes the job,
/// so a retried job records and enqueues nothing twice. Every message makes one of these jobs, so the jobs of one
/// lease are decided together: one read for all their audiences, one write for all their fan-outs.
struct NotifyHandler: BatchJobHandler {
    let push: any PushRepository
    /// Of some users, those connected now (they see the message live and get no push).
    let connected: @Sendable ([UserID]) -> Set<UserID>
    let preview: PushPreview

    func run(batch jobs: [LeasedJob]) async -> [Int64: any Error] {
        var failures: [Int64: any Error] = [:]
        var payloads: [(job: LeasedJob, payload: NotifyMessagePayload)] = []
        for job in jobs {
            do {
                payloads.append((job, try ChatJSON.decoder().decode(NotifyMessagePayload.self, from: Data(job.payload.utf8))))
            } catch {
                failures[job.lease.jobId] = error
            }
        }
        do {
            let inputs = try await push.audiences(of: payloads.map(\.payload.messageId), connected: connected)
            var fanOuts: [PushFanOut] = []
            for (job, payload) in payloads {
                // A message deleted before its job ran notifies nobody.
                guard let input = inputs[payload.messageId] else {
                    fanOuts.append(PushFanOut(lease: job.lease, notifications: [], deliveries: []))
                    continue
                }
                // The store already left out the members who were connected.
                let audience = PushAudience(input, online: [], preview: preview)
                do {
                    fanOuts.append(
                        PushFanOut(
                            lease: job.lease,
                            notifications: audience.recipients.map {
                                ChatCore.Notification(
                                    userId: $0.userId, conversationId: payload.conversationId,
                                    messageId: payload.messageId, title: $0.content.title, body: $0.content.body)
                            },
                            deliveries: try PushBatch.jobs(for: audience.recipients)))
                } catch {
                    failures[job.lease.jobId] = error
                }
            }
            for lease in try await push.fanOut(fanOuts) {
                failures[lease.jobId] = JobFailure("the job's lease ended before it finished")
            }
        } catch {
            for (job, _) in payloads where failures[job.lease.jobId] == nil { failures[job.lease.jobId] = error }
        }
        return failures
    }
}

/// `push.deliver`: sends a batch of notifications, several at a time, then removes the targets vendors reported
/// gone and enqueues what may be retried (after the backoff or the vendor's `Retry-After`), in the transaction that
/// finishes the job. A batch stops starting sends after `sendingTime`, well within its lease, and passes the rest on.
/// A batch that runs twice (its worker died after sending) sends twice; the collapse key makes the device show one.
struct PushDeliveryHandler: JobHandler {
    let push: any PushRepository
    let sender: PushSender
    /// The push queue's policy: how many attempts a notification gets and the backoff between them.
    let policy: QueuePolicy
    let clock: @Sendable () -> Millis
    let random: @Sendable () -> Double
    /// Sends of one batch in flight at once.
    static let inFlight = 32
    /// After this, a batch starts no more sends (one that started may take a token grant and two tries, 10 s each).
    static let sendingTime = Duration.seconds(30)

    func run(_ job: LeasedJob) async throws {
        let batch = try ChatJSON.decoder().decode(PushBatch.self, from: Data(job.payload.utf8))
        let targets = Dictionary(
            uniqueKeysWithValues: try await push.targets(ids: batch.items.map(\.targetId)).map { ($0.id, $0) })
        let deleted = try await push.deletedMessages(among: batch.items.compactMap(\.content.messageId))
        // A target removed since the batch was made (logout, a vendor's answer) or moved to another user, and a
        // message deleted since, are skipped.
        let items = batch.items.filter {
            targets[$0.targetId]?.userId == $0.userId && !deleted.contains($0.content.messageId ?? 0)
        }
        let deadline = ContinuousClock.now + Self.sendingTime
        let (attempts, unsent) = await withTaskGroup(of: PushBatch.Attempt.self) { group in
            var attempts: [PushBatch.Attempt] = []
            var unsent: [PushBatch.Item] = []
            var next = items.makeIterator()
            func start() {
                guard let item = next.next(), let target = targets[item.targetId] else { return }
                guard ContinuousClock.now < deadline else { return unsent.append(item) }
                group.addTask {
                    PushBatch.Attempt(
                        item: item, outcome: await sender.send(item.content, to: target).outcome,
                        vendor: PushHealth.vendor(of: target))
                }
            }
            for _ in 0..<Self.inFlight { start() }
            while let attempt = await group.next() {
                attempts.append(attempt)
                start()
            }
            while let item = next.next() { unsent.append(item) }
            return (attempts, unsent)
        }
        let now = clock()
        let settlement = try batch.settle(
            attempts, unsent: unsent, now: now,
            backoffUntil: policy.retryAt(afterAttempt: batch.attempt, now: now, random: random()))
        try await push.settle(removing: settlement.removeTargets, retries: settlement.retries, completing: job.lease)
    }
}
