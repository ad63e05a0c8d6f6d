import ChatCore

/// Who hears of a new message by push, and what each is told. A value: the notify job reads the input in one
/// transaction, asks the hub who is connected, and performs what this returns.
public struct PushAudience: Sendable, Equatable {
    /// Why a member gets no push for this message.
    public enum Skip: String, Sendable, Equatable, CaseIterable {
        /// A device of theirs is connected: the message reached it live.
        case online
        /// They muted the conversation, and the message does not mention them (or mentions do not break their mute).
        case muted
        /// They blocked the sender.
        case blocked
        /// A later message of the conversation notifies them instead (one notification for a burst).
        case superseded
    }

    /// A member who is told of the message: the record of the notification, and its content for their targets (none
    /// when no device of theirs registered one: the notification is still recorded).
    public struct Recipient: Sendable, Equatable {
        public var userId: UserID
        public var content: PushContent
        public var targets: [PushTarget]
    }

    public var recipients: [Recipient] = []
    public var skipped: [UserID: Skip] = [:]

    public init(_ input: PushAudienceInput, online: Set<UserID>, preview: PushPreview) {
        let message = input.message
        for candidate in input.candidates where candidate.userId != message.senderId {
            let mentioned = Self.mentions(message.text, handle: candidate.handle)
            if online.contains(candidate.userId) {
                skipped[candidate.userId] = .online
            } else if candidate.blockedSender {
                skipped[candidate.userId] = .blocked
            } else if candidate.muted && !(mentioned && candidate.settings.mentionsBreakMute) {
                skipped[candidate.userId] = .muted
            } else if candidate.superseded && !(candidate.muted && mentioned) {
                // A mention that broke through a mute is not superseded: the later message may not break it.
                skipped[candidate.userId] = .superseded
            } else {
                recipients.append(
                    Recipient(
                        userId: candidate.userId,
                        content: .message(message, badge: candidate.unread, preview: preview),
                        targets: candidate.targets))
            }
        }
    }

    /// Whether `text` mentions `@handle`: the handle, case-insensitively, after an "@" that does not follow a letter
    /// or digit (not an e-mail address), and not followed by another handle character (`Validate.handle`'s).
    public static func mentions(_ text: String, handle: String?) -> Bool {
        guard let handle, !handle.isEmpty, text.contains("@") else { return false }
        let wanted = Array(handle.lowercased().unicodeScalars)
        let scalars = Array(text.lowercased().unicodeScalars)
        func isHandleCharacter(_ scalar: Unicode.Scalar) -> Bool {
            scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "."
        }
        var index = 0
        while index < scalars.count {
            defer { index += 1 }
            guard scalars[index] == "@", index == 0 || !isHandleCharacter(scalars[index - 1]) else { continue }
            let start = index + 1
            let end = start + wanted.count
            guard end <= scalars.count, Array(scalars[start..<end]) == wanted else { continue }
            // A trailing dot ends a sentence, not the handle.
            if end == scalars.count || !isHandleCharacter(scalars[end])
                || (scalars[end] == "." && (end + 1 == scalars.count || !isHandleCharacter(scalars[end + 1])))
            {
                return true
            }
        }
        return false
    }
}
