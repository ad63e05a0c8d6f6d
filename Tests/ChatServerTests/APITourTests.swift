import Foundation
import Testing

@testable import ChatServer

/// The README's API tour, end to end against a real server: accounts, a direct chat, a group, sync and search.
@Suite struct APITourTests {
    @Test func directConversationTour() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("Bob.B")

            // Login and profile.
            let login = try await api.call(
                .post, "/v1/auth/login", json: ["handle": "ALICE", "password": "correct horse"])
            #expect(login.status == 200)
            #expect(login["user"]["id"].int == alice.id)
            let renamed = try await api.call(.patch, "/v1/me", token: alice.token, json: ["display_name": "Alice A."])
            #expect(renamed["user"]["display_name"].string == "Alice A.")
            let found = try await api.call(.get, "/v1/users/by-handle/bob.b", token: alice.token)
            #expect(found["user"]["id"].int == bob.id)

            // Exactly one direct conversation per pair.
            let first = try await api.call(.post, "/v1/conversations/direct", token: alice.token, json: ["user_id": bob.id])
            #expect(first.status == 201)
            let again = try await api.call(.post, "/v1/conversations/direct", token: bob.token, json: ["user_id": alice.id])
            #expect(again.status == 200)
            let conversation = first["conversation"]["id"].int!
            #expect(again["conversation"]["id"].int == conversation)
            #expect(again["conversation"]["peer"]["handle"].string == "alice")

            // Send, resend (idempotent), reply.
            let sent = try await api.send(alice, conversation, "Hello Bob, lunch tomorrow?", clientId: "m-1")
            #expect(sent.status == 201)
            #expect(sent["message"]["seq"].int == 1)
            let resent = try await api.send(alice, conversation, "Hello Bob, lunch tomorrow?", clientId: "m-1")
            #expect(resent.status == 200)
            #expect(resent["duplicate"].bool == true)
            #expect(resent["message"]["id"].int == sent["message"]["id"].int)
            #expect(resent["cursor"].int == sent["cursor"].int)
            let reply = try await api.call(
                .post, "/v1/conversations/\(conversation)/messages", token: bob.token,
                json: ["client_id": "b-1", "text": "Sure! 12:30 at the usual place", "reply_to": 1])
            #expect(reply.status == 201)
            #expect(reply["message"]["seq"].int == 2)
            #expect(reply["message"]["reply_to_seq"].int == 1)

            // Unread counts and read receipts.
            var list = try await api.call(.get, "/v1/conversations", token: alice.token)
            #expect(list["conversations"][0]["unread_count"].int == 1)
            #expect(list["conversations"][0]["last_message"]["text"].string == "Sure! 12:30 at the usual place")
            let read = try await api.call(
                .post, "/v1/conversations/\(conversation)/read", token: alice.token, json: ["seq": 2])
            #expect(read["last_read_seq"].int == 2)
            #expect(read["last_delivered_seq"].int == 2)
            list = try await api.call(.get, "/v1/conversations", token: alice.token)
            #expect(list["conversations"][0]["unread_count"].int == 0)
            let delivered = try await api.call(
                .post, "/v1/conversations/\(conversation)/delivered", token: bob.token, json: ["seq": 1])
            #expect(delivered["last_delivered_seq"].int == 2, "sending seq 2 already delivered it to Bob")

            // Edit, react, delete.
            let edited = try await api.call(
                .patch, "/v1/conversations/\(conversation)/messages/1", token: alice.token,
                json: ["text": "Hello Bob, lunch tomorrow at noon?"])
            #expect(edited["message"]["text"].string == "Hello Bob, lunch tomorrow at noon?")
            #expect(!edited["message"]["edited_at"].isNull)
            let thumbs = "%F0%9F%91%8D"
            let reacted = try await api.call(
                .put, "/v1/conversations/\(conversation)/messages/1/reactions/\(thumbs)", token: bob.token)
            #expect(reacted["message"]["reactions"][0]["emoji"].string == "👍")
            #expect(reacted["message"]["reactions"][0]["user_ids"][0].int == bob.id)
            let unreacted = try await api.call(
                .delete, "/v1/conversations/\(conversation)/messages/1/reactions/\(thumbs)", token: bob.token)
            #expect(unreacted["message"]["reactions"].array.isEmpty)
            let deleted = try await api.call(.delete, "/v1/conversations/\(conversation)/messages/2", token: bob.token)
            #expect(deleted.status == 200)
            #expect(deleted["message"]["text"].isNull)
            #expect(!deleted["message"]["deleted_at"].isNull)

            // History keeps the tombstone's seq.
            let history = try await api.call(.get, "/v1/conversations/\(conversation)/messages", token: bob.token)
            #expect(history["messages"].array.compactMap { $0["seq"].int } == [1, 2])
            #expect(history["messages"][1]["text"].isNull)

            // Sync: every change as an event, in cursor order.
            let sync = try await api.call(.get, "/v1/sync?cursor=0", token: bob.token)
            let types = sync["events"].array.compactMap { $0["type"].string }
            #expect(
                types == [
                    "conversation.created", "message.created", "message.created", "receipt.read",
                    "receipt.delivered", "message.edited", "reaction.added", "reaction.removed", "message.deleted",
                ])
            let cursors = sync["events"].array.compactMap { $0["cursor"].int }
            #expect(cursors == cursors.sorted() && Set(cursors).count == cursors.count)
            #expect(sync["cursor"].int == cursors.last)
            // A deleted message is not served again through its old events.
            #expect(!sync.text.contains("12:30"))
            let head = try await api.call(.get, "/v1/sync", token: bob.token)
            #expect(head["cursor"].int == cursors.last)
            #expect(head["events"].array.isEmpty)

            // Search, with a snippet, scoped to the asker's conversations.
            let search = try await api.call(.get, "/v1/search?q=lunch%20noo", token: bob.token)
            #expect(search["results"].array.count == 1)
            #expect(search["results"][0]["snippet"].string?.contains("[lunch]") == true)
            let carol = try await api.register("carol")
            let outsider = try await api.call(.get, "/v1/search?q=lunch", token: carol.token)
            #expect(outsider["results"].array.isEmpty)

            // Mute, then log out.
            let muted = try await api.call(.put, "/v1/conversations/\(conversation)/mute", token: bob.token)
            #expect(muted["conversation"]["muted"].bool == true)
            let logout = try await api.call(.post, "/v1/auth/logout", token: bob.token)
            #expect(logout.status == 204)
            let afterLogout = try await api.call(.get, "/v1/me", token: bob.token)
            #expect(afterLogout.status == 401)
        }
    }

    @Test func groupTour() async throws {
        try await withServer { api in
            let owner = try await api.register("owner")
            let admin = try await api.register("admin")
            let member = try await api.register("member")
            let late = try await api.register("latecomer")
            let group = try await api.group(owner, title: "Climbing club", members: [admin, member])
            let created = try await api.call(.get, "/v1/conversations/\(group)", token: member.token)
            #expect(created["conversation"]["member_count"].int == 3)
            #expect(created["conversation"]["role"].string == "member")

            try await api.send(owner, group, "Welcome!")
            // Roles: only the owner changes them.
            let denied = try await api.call(
                .patch, "/v1/conversations/\(group)/members/\(member.id)", token: admin.token, json: ["role": "admin"])
            #expect(denied.status == 403)
            let promoted = try await api.call(
                .patch, "/v1/conversations/\(group)/members/\(admin.id)", token: owner.token, json: ["role": "admin"])
            #expect(promoted.status == 200)

            // Admins add members and rename; members do not.
            let memberAdds = try await api.call(
                .post, "/v1/conversations/\(group)/members", token: member.token, json: ["user_ids": [late.id]])
            #expect(memberAdds.status == 403)
            let added = try await api.call(
                .post, "/v1/conversations/\(group)/members", token: admin.token, json: ["user_ids": [late.id]])
            #expect(added["members"].array.count == 4)
            let renamed = try await api.call(
                .patch, "/v1/conversations/\(group)", token: admin.token, json: ["title": "Climbing club 2026"])
            #expect(renamed["conversation"]["title"].string == "Climbing club 2026")

            // The latecomer sees history, but its sync starts at its own arrival.
            let history = try await api.call(.get, "/v1/conversations/\(group)/messages", token: late.token)
            #expect(history["messages"].array.count == 1)
            let lateSync = try await api.call(.get, "/v1/sync?cursor=0", token: late.token)
            #expect(lateSync["events"].array.compactMap { $0["type"].string } == ["member.added", "conversation.updated"])

            // An admin cannot remove the owner; the owner removes anyone; members leave.
            let coup = try await api.call(.delete, "/v1/conversations/\(group)/members/\(owner.id)", token: admin.token)
            #expect(coup.status == 403)
            let removed = try await api.call(
                .delete, "/v1/conversations/\(group)/members/\(late.id)", token: owner.token)
            #expect(removed.status == 204)
            let left = try await api.call(.delete, "/v1/conversations/\(group)/members/\(member.id)", token: member.token)
            #expect(left.status == 204)

            // The removed member learns of it through their own sync.
            let removedSync = try await api.call(.get, "/v1/sync?cursor=0", token: late.token)
            #expect(removedSync["events"].array.last?["type"].string == "member.removed")

            // When the owner leaves, the admin inherits the group.
            try await api.call(.delete, "/v1/conversations/\(group)/members/\(owner.id)", token: owner.token)
            let members = try await api.call(.get, "/v1/conversations/\(group)/members", token: admin.token)
            #expect(members["members"].array.count == 1)
            #expect(members["members"][0]["role"].string == "owner")
        }
    }
}
