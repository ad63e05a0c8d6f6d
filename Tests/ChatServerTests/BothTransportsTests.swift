import ChatCore
import Foundation
import Testing

@testable import ChatServer

/// One rule, one place: each operation reachable from REST and from the socket refuses the same bad input with the
/// same error code and status over both, because both call the same service.
@Suite struct BothTransportsTests {
    /// An operation with bad input, as a REST call and as a socket frame.
    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var method: String
        var path: String
        var body: [String: any Sendable]?
        var frame: [String: any Sendable]
        var code: String
    }

    func cases(conversation c: Int64, stranger s: Int64, big: String) -> [Case] {
        let messages = "/v1/conversations/\(c)/messages"
        return [
            Case(description: "send empty text", method: "POST", path: messages,
                 body: ["client_id": "a1", "text": "  "],
                 frame: ["type": "send", "conversation_id": c, "client_id": "a1", "text": "  "], code: "invalid_request"),
            Case(description: "send too long", method: "POST", path: messages,
                 body: ["client_id": "a2", "text": big],
                 frame: ["type": "send", "conversation_id": c, "client_id": "a2", "text": big], code: "payload_too_large"),
            Case(description: "send bad client_id", method: "POST", path: messages,
                 body: ["client_id": "has space", "text": "hi"],
                 frame: ["type": "send", "conversation_id": c, "client_id": "has space", "text": "hi"],
                 code: "invalid_request"),
            Case(description: "send NUL", method: "POST", path: messages,
                 body: ["client_id": "a3", "text": "a\u{0}b"],
                 frame: ["type": "send", "conversation_id": c, "client_id": "a3", "text": "a\u{0}b"], code: "invalid_request"),
            Case(description: "send reply_to 0", method: "POST", path: messages,
                 body: ["client_id": "a4", "text": "hi", "reply_to": 0],
                 frame: ["type": "send", "conversation_id": c, "client_id": "a4", "text": "hi", "reply_to": 0],
                 code: "invalid_request"),
            Case(description: "send to a stranger's conversation", method: "POST", path: "/v1/conversations/\(s)/messages",
                 body: ["client_id": "a5", "text": "hi"],
                 frame: ["type": "send", "conversation_id": s, "client_id": "a5", "text": "hi"], code: "not_found"),
            Case(description: "edit empty text", method: "PATCH", path: "\(messages)/1", body: ["text": ""],
                 frame: ["type": "edit", "conversation_id": c, "seq": 1, "text": ""], code: "invalid_request"),
            Case(description: "edit a missing message", method: "PATCH", path: "\(messages)/99", body: ["text": "x"],
                 frame: ["type": "edit", "conversation_id": c, "seq": 99, "text": "x"], code: "not_found"),
            Case(description: "delete a missing message", method: "DELETE", path: "\(messages)/99", body: nil,
                 frame: ["type": "delete", "conversation_id": c, "seq": 99], code: "not_found"),
            Case(description: "react with two emoji", method: "PUT", path: "\(messages)/1/reactions/%F0%9F%91%8D%F0%9F%91%8D",
                 body: nil, frame: ["type": "react", "conversation_id": c, "seq": 1, "emoji": "👍👍"],
                 code: "invalid_request"),
            Case(description: "react with text", method: "PUT", path: "\(messages)/1/reactions/ok", body: nil,
                 frame: ["type": "react", "conversation_id": c, "seq": 1, "emoji": "ok"], code: "invalid_request"),
            Case(description: "read seq 0", method: "POST", path: "/v1/conversations/\(c)/read", body: ["seq": 0],
                 frame: ["type": "read", "conversation_id": c, "seq": 0], code: "invalid_request"),
            Case(description: "read past the end", method: "POST", path: "/v1/conversations/\(c)/read", body: ["seq": 50],
                 frame: ["type": "read", "conversation_id": c, "seq": 50], code: "invalid_request"),
            Case(description: "delivered in a stranger's conversation", method: "POST",
                 path: "/v1/conversations/\(s)/delivered", body: ["seq": 1],
                 frame: ["type": "delivered", "conversation_id": s, "seq": 1], code: "not_found"),
        ]
    }

    @Test func theSameBadInputGetsTheSameErrorOverRESTAndTheSocket() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let carol = try await api.register("carol")
            let conversation = try await api.direct(alice, with: bob)
            let stranger = try await api.direct(bob, with: carol)
            try await api.send(alice, conversation, "first")
            let (socket, _) = try await api.liveSocket(alice)
            let big = String(repeating: "x", count: 4097)
            for test in cases(conversation: conversation, stranger: stranger, big: big) {
                let rest = try await api.call(
                    .init(test.method)!, test.path, token: alice.token, json: test.body.map { $0 as [String: Any] })
                let reply = try await socket.request(test.frame as [String: Any])
                #expect(rest.errorCode == test.code, "REST \(test): \(rest.text)")
                #expect(reply["error"]["code"].string == test.code, "socket \(test): \(reply)")
                #expect(reply["status"].int == Int64(rest.status), "\(test): the same status")
            }
            // Nothing of it was written: the conversation still holds its one message.
            let history = try await api.call(.get, "/v1/conversations/\(conversation)/messages", token: alice.token)
            #expect(history["messages"].array.map { $0["text"].string } == ["first"])
            await socket.close()
        }
    }
}
