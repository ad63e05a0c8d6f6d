import ChatCore
import ChatJobs
import Foundation

/// `notify.message`: the members of a conversation who were not connected when a message arrived get a
/// notification (its title and the start of its text). Push delivery will send them; until then they are recorded,
/// with the job finished in the same transaction, so a retried job records nothing twice.
struct NotifyHandler: JobHandler {
    let notifications: any NotificationRepository
    /// Of some users, those connected now (they see the message live and get no notification).
    let connected: @Sendable ([UserID]) -> Set<UserID>

    func run(_ job: LeasedJob) async throws {
        let payload = try ChatJSON.decoder().decode(NotifyMessagePayload.self, from: Data(job.payload.utf8))
        // A message deleted before its job ran notifies nobody.
        guard let draft = try await notifications.draft(message: payload.messageId) else {
            try await notifications.record([], completing: job.lease)
            return
        }
        let online = connected(draft.recipients)
        let list = draft.recipients.filter { !online.contains($0) }.map {
            Notification(
                userId: $0, conversationId: payload.conversationId, messageId: payload.messageId, title: draft.title,
                body: draft.body)
        }
        try await notifications.record(list, completing: job.lease)
    }
}
