import Foundation
import Testing

@testable import ChatServer

/// Bad input gets a clear 4xx with the one JSON error shape, and changes nothing.
@Suite struct BadInputTests {
    @Test func malformedBodiesAreRefusedWithTheirReason() async throws {
        try await withServer(testConfig { $0.limits.maxBodyBytes = 16_384 }) { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let conversation = try await api.direct(alice, with: bob)
            let path = "/v1/conversations/\(conversation)/messages"
            let cases: [(Reply, Int, String, String)] = [
                (try await api.call(.post, path, token: alice.token, raw: "{not json"), 400, "invalid_request", "not valid JSON"),
                (try await api.call(.post, path, token: alice.token, rawBytes: Array(#"{"client_id":"a","text":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)), 400, "invalid_request", "not valid JSON"),
                (try await api.call(.post, path, token: alice.token, json: ["client_id": 7, "text": "x"]), 400, "invalid_request", "'client_id' must be a string"),
                (try await api.call(.post, path, token: alice.token, json: ["text": "x"]), 400, "invalid_request", "'client_id' is required"),
                (try await api.call(.post, path, token: alice.token, json: ["client_id": "a", "text": "   "]), 400, "invalid_request", "must not be empty"),
                (try await api.call(.post, path, token: alice.token, json: ["client_id": "has space", "text": "x"]), 400, "invalid_request", "client_id"),
                (try await api.call(.post, path, token: alice.token, json: ["client_id": "a", "text": String(repeating: "é", count: 2049)]), 413, "payload_too_large", "4096"),
                (try await api.call(.post, path, token: alice.token, raw: "{\"pad\":\"" + String(repeating: "x", count: 20_000) + "\"}"), 413, "payload_too_large", "16384"),
                (try await api.call(.post, path, token: alice.token), 400, "invalid_request", "JSON body is required"),
                (try await api.call(.post, path, token: alice.token, json: ["client_id": "n", "text": "hi\u{0}secret"]), 400, "invalid_request", "U+0000"),
                (try await api.call(.post, path, token: alice.token, json: ["client_id": "a", "text": "x", "reply_to": 5]), 400, "invalid_request", "reply_to"),
                (try await api.call(.post, "/v1/conversations/abc/messages", token: alice.token, json: ["client_id": "a", "text": "x"]), 404, "not_found", "conversation"),
                (try await api.call(.post, "/v1/conversations/-4/messages", token: alice.token, json: ["client_id": "a", "text": "x"]), 404, "not_found", "conversation"),
                (try await api.call(.get, path + "?limit=0", token: alice.token), 400, "invalid_request", "limit"),
                (try await api.call(.get, path + "?limit=101", token: alice.token), 400, "invalid_request", "limit"),
                (try await api.call(.get, path + "?before=abc", token: alice.token), 400, "invalid_request", "before"),
                (try await api.call(.get, "/v1/sync?cursor=-1", token: alice.token), 400, "invalid_request", "cursor"),
                (try await api.call(.get, "/v1/search", token: alice.token), 400, "invalid_request", "'q'"),
                (try await api.call(.post, "/v1/conversations/\(conversation)/read", token: alice.token, json: ["seq": 99]), 400, "invalid_request", "past"),
                (try await api.call(.put, "/v1/conversations/\(conversation)/messages/1/reactions/ab", token: alice.token), 400, "invalid_request", "emoji"),
                (try await api.call(.post, "/v1/conversations/direct", token: alice.token, json: ["user_id": 424242]), 404, "not_found", "user"),
                (try await api.call(.post, "/v1/conversations/group", token: alice.token, json: ["title": "", "member_ids": []]), 400, "invalid_request", "title"),
                (try await api.call(.patch, "/v1/conversations/\(conversation)/members/\(bob.id)", token: alice.token, json: ["role": "king"]), 400, "invalid_request", "role"),
                (try await api.call(.get, "/v1/nowhere", token: alice.token), 404, "not_found", "no route"),
                (try await api.call(.delete, "/v1/auth/login"), 405, "method_not_allowed", "allowed: POST"),
                (try await api.call(.put, "/v1/conversations/\(conversation)", token: alice.token), 405, "method_not_allowed", "allowed: GET, PATCH"),
            ]
            for (reply, status, code, fragment) in cases {
                #expect(reply.status == status, "\(reply.text)")
                #expect(reply.errorCode == code, "\(reply.text)")
                #expect(reply["error"]["message"].string?.contains(fragment) == true, "\(reply.text) lacks \(fragment)")
                #expect(reply.headers[.contentType]?.hasPrefix("application/json") == true)
            }
            let wrongMethod = try await api.call(.put, "/v1/conversations/\(conversation)/messages", token: alice.token)
            #expect(wrongMethod.headers[.allow] == "GET, POST")
            let history = try await api.call(.get, path, token: alice.token)
            #expect(history["messages"].array.isEmpty, "no refused call wrote anything")
            let sync = try await api.call(.get, "/v1/sync?cursor=0", token: alice.token)
            #expect(sync["events"].array.map { $0["type"].string } == ["conversation.created"])
        }
    }

    @Test func registrationRules() async throws {
        try await withServer { api in
            let cases: [([String: Any], Int, String)] = [
                (["handle": "ab", "password": "long enough"], 400, "3–32"),
                (["handle": "no spaces", "password": "long enough"], 400, "letters"),
                (["handle": "émile", "password": "long enough"], 400, "letters"),
                (["handle": "valid_one", "password": "short"], 400, "at least 8"),
                (["handle": "valid_one", "password": String(repeating: "p", count: 73)], 400, "72"),
                (["handle": "valid_one"], 400, "'password' is required"),
                (["handle": "valid_one", "password": String(repeating: "\u{0}", count: 8)], 400, "U+0000"),
            ]
            for (body, status, fragment) in cases {
                let reply = try await api.call(.post, "/v1/auth/register", json: body)
                #expect(reply.status == status, "\(reply.text)")
                #expect(reply["error"]["message"].string?.contains(fragment) == true, "\(reply.text)")
            }
            _ = try await api.register("Valid.One")
            let taken = try await api.call(.post, "/v1/auth/register", json: ["handle": "valid.one", "password": "long enough"])
            #expect(taken.status == 409)
            #expect(taken.errorCode == "handle_taken")
        }
    }

    @Test func rateLimitsAnswer429WithRetryAfter() async throws {
        let config = testConfig {
            $0.limits.authRequestsPerMinute = 5
            $0.limits.messagesPerMinute = 3
        }
        try await withServer(config) { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            var statuses: [Int] = []
            for _ in 0..<4 {
                let reply = try await api.call(.post, "/v1/auth/login", json: ["handle": "alice", "password": "wrong password"])
                statuses.append(reply.status)
                if reply.status == 429 {
                    #expect(reply.errorCode == "rate_limited")
                    #expect(Int(reply.headers[.retryAfter] ?? "") ?? 0 >= 1)
                }
            }
            #expect(statuses == [401, 401, 401, 429])
            let conversation = try await api.direct(alice, with: bob)
            var sends: [Int] = []
            for index in 0..<4 { sends.append(try await api.send(alice, conversation, "m\(index)").status) }
            #expect(sends == [201, 201, 201, 429])
            #expect(try await api.send(bob, conversation, "bob has his own budget").status == 201)
        }
    }
}
