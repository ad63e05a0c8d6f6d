import Foundation
import Testing

@testable import ChatCore

@Suite struct JSONTests {
    static let texts = [
        "plain", "with \"quotes\" and \\ backslash / slash", "lines\nand\ttabs\r", "\u{0}\u{1}\u{1F}\u{08}\u{0C}",
        "émoji 👍🏽 and 漢字", "\u{2028}\u{2029}", "",
    ]

    @Test(arguments: texts)
    func messageEncodingMatchesTheCodableEncoder(_ text: String) throws {
        let messages = [
            Message(
                id: 7, conversationId: 3, seq: 42, senderId: 9, clientId: text.isEmpty ? "c" : text, text: text,
                replyToSeq: 41, createdAt: 1_700_000_000_000, editedAt: 1_700_000_000_001, deletedAt: nil,
                reactions: [ReactionSummary(emoji: "👍", userIds: [1, 2]), ReactionSummary(emoji: "❤️", userIds: [3])]),
            Message(
                id: 8, conversationId: 3, seq: 43, senderId: 9, clientId: "x", text: nil, replyToSeq: nil,
                createdAt: 1, editedAt: nil, deletedAt: 2),
        ]
        for message in messages {
            let expected = String(decoding: try ChatJSON.encoder().encode(message), as: UTF8.self)
            #expect(message.json == expected)
        }
    }
}
