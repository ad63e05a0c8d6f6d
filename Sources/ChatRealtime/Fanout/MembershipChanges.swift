import ChatCore
import Foundation

/// Who joins or leaves which conversation with each event of a committed batch, read from the events' own data —
/// exactly what a client reads, and what a later cross-instance fan-out carries over the wire.
///
/// Newcomers added by one write (a run of `member.added` events of one conversation, by one actor, at one time) all
/// join with the first event of the run, so each of them gets every newcomer's `member.added` live, as their sync
/// log gives it to them (they all start at the same cursor). Two writes by one actor that commit in the same batch
/// and the same millisecond form one run: the second write's newcomers may then get the first write's `member.added`
/// live, which their sync log leaves out — one extra event, never a missing one.
enum MembershipChanges {
    static func of(_ events: [Event]) -> [MembershipChange?] {
        var changes = [MembershipChange?](repeating: nil, count: events.count)
        var index = 0
        while index < events.count {
            let event = events[index]
            switch event.type {
            case .conversationCreated where event.audienceUserId == nil:
                if let data = decode(Created.self, event.data) { changes[index] = .joined(data.memberIds) }
                index += 1
            case .memberAdded where event.audienceUserId == nil:
                guard let first = decode(Member.self, event.data) else {
                    index += 1
                    continue
                }
                var run = [first.userId]
                var end = index + 1
                while end < events.count, events[end].type == .memberAdded, events[end].audienceUserId == nil,
                    events[end].conversationId == event.conversationId, events[end].at == event.at,
                    let next = decode(Member.self, events[end].data), next.by == first.by
                {
                    run.append(next.userId)
                    changes[end] = .joined([next.userId])
                    end += 1
                }
                changes[index] = .joined(run)
                index = end
            case .memberRemoved where event.audienceUserId == nil:
                if let data = decode(Member.self, event.data) { changes[index] = .left(data.userId) }
                index += 1
            default:
                index += 1
            }
        }
        return changes
    }

    private struct Created: Decodable {
        var memberIds: [UserID]
        enum CodingKeys: String, CodingKey { case memberIds = "member_ids" }
    }

    private struct Member: Decodable {
        var userId: UserID
        var by: UserID?
        enum CodingKeys: String, CodingKey {
            case userId = "user_id"
            case by
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ data: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(data.utf8))
    }
}
