import ChatCore
import Foundation
import Testing

@testable import ChatServer

@Suite struct MessageServiceTests {
    /// The hand-built answer to a send is byte for byte what the JSON encoder writes.
    @Test(arguments: [true, false])
    func sendResponseJSONMatchesTheEncoder(_ duplicate: Bool) throws {
        let message = Message(
            id: 7, conversationId: 3, seq: 42, senderId: 9, clientId: "c-1", text: "hé \"quoted\"\n", replyToSeq: 41,
            createdAt: 1_700_000_000_000, editedAt: nil, deletedAt: nil)
        for cursor in [EventCursor(1842), nil] {
            let response = MessageService.SendResponse(message: message, cursor: cursor, duplicate: duplicate)
            #expect(response.json == ChatJSON.string(response))
        }
    }
}
