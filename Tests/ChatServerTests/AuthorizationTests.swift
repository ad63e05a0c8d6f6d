import ChatCore
import Foundation
import JWTKit
import Testing

@testable import ChatServer

/// Who may do what: non-members, blocked users, removed members, expired and forged tokens.
@Suite struct AuthorizationTests {
    @Test func nonMemberSeesNotFoundForAConversationThatExists() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let eve = try await api.register("eve")
            let conversation = try await api.direct(alice, with: bob)
            try await api.send(alice, conversation, "private")
            let missing = try await api.call(.get, "/v1/conversations/999999", token: eve.token)
            #expect(missing.status == 404)
            let probes: [(Reply, String)] = [
                (try await api.call(.get, "/v1/conversations/\(conversation)", token: eve.token), "show"),
                (try await api.call(.get, "/v1/conversations/\(conversation)/messages", token: eve.token), "history"),
                (try await api.call(.get, "/v1/conversations/\(conversation)/members", token: eve.token), "members"),
                (try await api.send(eve, conversation, "let me in"), "send"),
                (try await api.call(.patch, "/v1/conversations/\(conversation)/messages/1", token: eve.token, json: ["text": "x"]), "edit"),
                (try await api.call(.delete, "/v1/conversations/\(conversation)/messages/1", token: eve.token), "delete"),
                (try await api.call(.put, "/v1/conversations/\(conversation)/messages/1/reactions/%F0%9F%98%80", token: eve.token), "react"),
                (try await api.call(.post, "/v1/conversations/\(conversation)/read", token: eve.token, json: ["seq": 1]), "read"),
                (try await api.call(.put, "/v1/conversations/\(conversation)/mute", token: eve.token), "mute"),
            ]
            for (reply, what) in probes {
                #expect(reply.status == 404, "\(what): \(reply.text)")
                #expect(reply.text == missing.text.replacingOccurrences(of: "999999", with: "\(conversation)"), "\(what)")
            }
            let sync = try await api.call(.get, "/v1/sync?cursor=0", token: eve.token)
            #expect(sync["events"].array.isEmpty)
            let history = try await api.call(.get, "/v1/conversations/\(conversation)/messages", token: bob.token)
            #expect(history["messages"].array.count == 1, "nothing was written by the refused calls")
        }
    }

    @Test func blockedUsersCannotOpenADirectConversationOrMessage() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let carol = try await api.register("carol")
            let conversation = try await api.direct(alice, with: bob)
            #expect(try await api.call(.put, "/v1/users/\(bob.id)/block", token: alice.token).status == 204)
            let blocks = try await api.call(.get, "/v1/me/blocks", token: alice.token)
            #expect(blocks["users"][0]["id"].int == bob.id)

            let send = try await api.send(bob, conversation, "hello?")
            #expect(send.status == 403)
            #expect(send.errorCode == "blocked")
            let aliceSends = try await api.send(alice, conversation, "bye")
            #expect(aliceSends.status == 403, "a block silences the direct conversation both ways")
            // A new direct conversation with the blocker is refused too (with carol standing in as a new pair).
            #expect(try await api.call(.put, "/v1/users/\(alice.id)/block", token: carol.token).status == 204)
            let open = try await api.call(.post, "/v1/conversations/direct", token: alice.token, json: ["user_id": carol.id])
            #expect(open.errorCode == "blocked")
            // Nor can the blocked user add the blocker to a group.
            let group = try await api.call(
                .post, "/v1/conversations/group", token: bob.token, json: ["title": "t", "member_ids": [alice.id]])
            #expect(group.errorCode == "blocked")

            #expect(try await api.call(.delete, "/v1/users/\(bob.id)/block", token: alice.token).status == 204)
            #expect(try await api.send(bob, conversation, "hello again").status == 201)
            let history = try await api.call(.get, "/v1/conversations/\(conversation)/messages", token: alice.token)
            #expect(history["messages"].array.count == 1)
        }
    }

    @Test func removedMemberLosesAccess() async throws {
        try await withServer { api in
            let owner = try await api.register("owner")
            let member = try await api.register("member")
            let group = try await api.group(owner, title: "Team", members: [member])
            try await api.send(member, group, "hi")
            try await api.call(.delete, "/v1/conversations/\(group)/members/\(member.id)", token: owner.token)
            #expect(try await api.call(.get, "/v1/conversations/\(group)/messages", token: member.token).status == 404)
            #expect(try await api.send(member, group, "still here?").status == 404)
            let list = try await api.call(.get, "/v1/conversations", token: member.token)
            #expect(list["conversations"].array.isEmpty)
            // Their own messages may still be edited by nobody but them, and they are gone.
            #expect(
                try await api.call(
                    .patch, "/v1/conversations/\(group)/messages/1", token: member.token, json: ["text": "x"]
                ).status == 404)
        }
    }

    @Test func memberCannotEditOthersMessagesButAdminsDelete() async throws {
        try await withServer { api in
            let owner = try await api.register("owner")
            let member = try await api.register("member")
            let group = try await api.group(owner, title: "Team", members: [member])
            try await api.send(owner, group, "owner's words")
            try await api.send(member, group, "member's words")
            let edit = try await api.call(
                .patch, "/v1/conversations/\(group)/messages/1", token: member.token, json: ["text": "mine now"])
            #expect(edit.status == 403)
            #expect(try await api.call(.delete, "/v1/conversations/\(group)/messages/1", token: member.token).status == 403)
            #expect(try await api.call(.delete, "/v1/conversations/\(group)/messages/2", token: owner.token).status == 200)
        }
    }

    @Test func expiredForgedAndMissingTokensAreRefused() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let keys = JWTKeyCollection()
            await keys.add(hmac: HMACKey(from: testSecret), digestAlgorithm: .sha256)
            let past = Date().addingTimeInterval(-3600)
            let expired = try await keys.sign(
                TokenIssuer.AccessClaims(
                    sub: SubjectClaim(value: "\(alice.id)"), iss: "chatd", iat: .init(value: past.addingTimeInterval(-900)),
                    exp: .init(value: past), sid: 1))
            let reply = try await api.call(.get, "/v1/me", token: expired)
            #expect(reply.status == 401)
            #expect(reply.errorCode == "token_expired")

            let forgedKeys = JWTKeyCollection()
            await forgedKeys.add(hmac: HMACKey(from: "another-secret-another-secret-0123456789"), digestAlgorithm: .sha256)
            let forged = try await forgedKeys.sign(
                TokenIssuer.AccessClaims(
                    sub: SubjectClaim(value: "\(alice.id)"), iss: "chatd", iat: .init(value: Date()),
                    exp: .init(value: Date().addingTimeInterval(600)), sid: 1))
            #expect(try await api.call(.get, "/v1/me", token: forged).errorCode == "unauthorized")

            // alg "none" with the real claims.
            let parts = alice.token.split(separator: ".")
            let none = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URLEncoded() + "." + parts[1] + "."
            #expect(try await api.call(.get, "/v1/me", token: none).status == 401)
            #expect(try await api.call(.get, "/v1/me", token: "garbage").status == 401)
            #expect(try await api.call(.get, "/v1/me").status == 401)
            #expect(try await api.call(.get, "/v1/me", headers: [.authorization: "Basic YTpi"]).status == 401)
            #expect(try await api.call(.get, "/v1/me", token: alice.token).status == 200)
        }
    }
}
