import Foundation
import Testing

/// `chatctl user` and `chatctl sessions` against a live daemon: disabling locks an account out at once (sign-in,
/// tokens, refresh, open sockets), enabling lets it back in, a kick signs a user out everywhere.
@Suite struct AdminUserTests {
    @Test func disableEnableAndKick() async throws {
        let config = testConfig()
        try await withServer(config) { api in
            let socket = try await adminSocket(config)
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let listed = try await ChatctlTests.chatctl(["user", "list", "--json", "--socket", socket])
            #expect(listed.json["users"].array.compactMap { $0["user"]["handle"].string } == ["alice", "bob"])

            // Disable bob by handle: his socket closes, his tokens stop, he cannot sign in.
            let (bobSocket, _) = try await api.liveSocket(bob)
            let disabled = try await ChatctlTests.chatctl(["user", "disable", "bob", "--json", "--socket", socket])
            #expect(disabled.status == 0, "\(disabled.stderr)")
            #expect(disabled.json["ended_sessions"].int == 1)
            #expect(try await bobSocket.closed()?.closeCode == .unknown(4401))
            #expect(try await api.call(.get, "/v1/me", token: bob.token).status == 401)
            let refresh = try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": bob.refreshToken])
            #expect(refresh.status == 401, "\(refresh.text)")
            let login = try await api.call(.post, "/v1/auth/login", json: ["handle": "bob", "password": "correct horse"])
            #expect(login.status == 403)
            #expect(login.text.contains("disabled"))
            let shown = try await ChatctlTests.chatctl(["user", "show", "@bob", "--json", "--socket", socket])
            #expect(shown.json["account"]["disabled_at"].int != nil)
            #expect(shown.json["sessions"][0]["revoked_reason"].string == "account disabled")
            #expect(try await api.call(.get, "/v1/me", token: alice.token).status == 200, "nobody else is touched")

            let enabled = try await ChatctlTests.chatctl(["user", "enable", "\(bob.id)", "--socket", socket])
            #expect(enabled.status == 0)
            let again = try await api.call(.post, "/v1/auth/login", json: ["handle": "bob", "password": "correct horse"])
            #expect(again.status == 200, "\(again.text)")

            // A kick ends every session of alice's (her socket and her refresh token) but leaves the account open.
            let (aliceSocket, _) = try await api.liveSocket(alice)
            let kicked = try await ChatctlTests.chatctl(["sessions", "kick", "alice", "--json", "--socket", socket])
            #expect(kicked.json["ended_sessions"].int == 1)
            #expect(try await aliceSocket.closed()?.closeCode == .unknown(4401))
            #expect(try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": alice.refreshToken]).status == 401)
            let sessions = try await ChatctlTests.chatctl(["sessions", "list", "alice", "--json", "--socket", socket])
            #expect(sessions.json["sessions"][0]["revoked_reason"].string == "signed out by an operator")
            #expect(try await api.call(.post, "/v1/auth/login", json: ["handle": "alice", "password": "correct horse"]).status == 200)

            // An operator creates a user, then sets a password for one who lost theirs (their sessions end).
            let added = try await ChatctlTests.chatctl(
                ["user", "add", "carol", "--name", "Carol", "--password-stdin", "--json", "--socket", socket],
                input: "first password\n")
            #expect(added.status == 0, "\(added.stderr)")
            #expect(added.json["account"]["user"]["display_name"].string == "Carol")
            let carol = try await api.call(.post, "/v1/auth/login", json: ["handle": "carol", "password": "first password"])
            #expect(carol.status == 200)
            let passwd = try await ChatctlTests.chatctl(
                ["user", "passwd", "carol", "--json", "--socket", socket], input: "second password\n")
            #expect(passwd.json["ended_sessions"].int == 1)
            #expect(try await api.call(.post, "/v1/auth/login", json: ["handle": "carol", "password": "first password"]).status == 401)
            #expect(try await api.call(.post, "/v1/auth/login", json: ["handle": "carol", "password": "second password"]).status == 200)
            let taken = try await ChatctlTests.chatctl(["user", "add", "carol", "--socket", socket])
            #expect(taken.status == 1 && taken.stderr.contains("handle_taken"))
            let short = try await ChatctlTests.chatctl(["user", "passwd", "carol", "--socket", socket], input: "short\n")
            #expect(short.status == 1 && short.stderr.contains("invalid_request"))

            let nobody = try await ChatctlTests.chatctl(["user", "disable", "nobody", "--socket", socket])
            #expect(nobody.status == 1)
            #expect(nobody.stderr.contains("not_found"))
        }
    }

    /// A moderator deletes others' messages where they are a member; a deleted account is locked out, leaves its
    /// groups (the owner's passes on), keeps its messages under "Deleted user" unless erased, and frees its handle.
    @Test func roleAndDelete() async throws {
        let config = testConfig()
        try await withServer(config) { api in
            let socket = try await adminSocket(config)
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let carol = try await api.register("carol")
            let group = try await api.group(alice, title: "team", members: [bob, carol])
            let direct = try await api.direct(alice, with: bob)
            for text in ["one", "two"] { try await api.send(bob, group, text) }
            try await api.send(bob, direct, "just us")
            try await api.send(alice, direct, "from alice")

            let deleteAsMember = try await api.call(.delete, "/v1/conversations/\(group)/messages/1", token: carol.token)
            #expect(deleteAsMember.status == 403)
            let promoted = try await ChatctlTests.chatctl(["user", "role", "carol", "moderator", "--json", "--socket", socket])
            #expect(promoted.status == 0, "\(promoted.stderr)")
            #expect(promoted.json["account"]["role"].string == "moderator")
            let deleteAsModerator = try await api.call(.delete, "/v1/conversations/\(group)/messages/1", token: carol.token)
            #expect(deleteAsModerator.status == 200, "\(deleteAsModerator.text)")
            // Only where they are a member: elsewhere the conversation does not exist for them.
            #expect(try await api.call(.delete, "/v1/conversations/\(direct)/messages/1", token: carol.token).status == 404)
            #expect(try await ChatctlTests.chatctl(["user", "role", "carol", "admiral", "--socket", socket]).status == 64)

            // Deleting asks for --yes.
            let unconfirmed = try await ChatctlTests.chatctl(["user", "delete", "alice", "--socket", socket])
            #expect(unconfirmed.status == 64)
            #expect(unconfirmed.stderr.contains("--yes"))
            let (aliceSocket, _) = try await api.liveSocket(alice)
            let deleted = try await ChatctlTests.chatctl(["user", "delete", "alice", "--yes", "--json", "--socket", socket])
            #expect(deleted.status == 0, "\(deleted.stderr)")
            #expect(deleted.json["ended_sessions"].int == 1)
            #expect(deleted.json["left_groups"].int == 1)
            #expect(deleted.json["erased_messages"].int == 0)
            #expect(try await aliceSocket.closed()?.closeCode == .unknown(4401))
            #expect(try await api.call(.get, "/v1/me", token: alice.token).status == 401)
            #expect(try await api.call(.post, "/v1/auth/login", json: ["handle": "alice", "password": "correct horse"]).status == 401)
            let members = try await api.call(.get, "/v1/conversations/\(group)/members", token: bob.token)
            #expect(members["members"].array.compactMap { $0["user_id"].int }.sorted() == [bob.id, carol.id])
            #expect(members["members"].array.contains { $0["role"].string == "owner" }, "the group has an owner again")
            // Bob keeps the direct conversation, with alice's message under "Deleted user".
            let history = try await api.call(.get, "/v1/conversations/\(direct)/messages", token: bob.token)
            #expect(history["messages"].array.compactMap { $0["text"].string }.contains("from alice"))
            // Nobody can bring the account back into a conversation.
            let heir = members["members"].array.first { $0["role"].string == "owner" }?["user_id"].int == bob.id ? bob : carol
            let readd = try await api.call(
                .post, "/v1/conversations/\(group)/members", token: heir.token, json: ["user_ids": [alice.id]])
            #expect(readd.status == 404, "\(readd.text)")
            let reopen = try await api.call(.post, "/v1/conversations/direct", token: carol.token, json: ["user_id": alice.id])
            #expect(reopen.status == 404, "\(reopen.text)")
            let shown = try await ChatctlTests.chatctl(["user", "show", "\(alice.id)", "--json", "--socket", socket])
            #expect(shown.json["account"]["deleted_at"].int != nil)
            #expect(shown.json["account"]["user"]["display_name"].string == "Deleted user")
            #expect(shown.json["account"]["user"]["handle"].isNull)
            let enable = try await ChatctlTests.chatctl(["user", "enable", "\(alice.id)", "--socket", socket])
            #expect(enable.status == 1 && enable.stderr.contains("conflict"), "\(enable.stderr)")
            let twice = try await ChatctlTests.chatctl(["user", "delete", "\(alice.id)", "--yes", "--socket", socket])
            #expect(twice.status == 1 && twice.stderr.contains("conflict"))
            #expect(try await api.call(.post, "/v1/auth/register", json: ["handle": "alice", "password": "new person"]).status == 201)

            // Erasing: bob's messages that were not deleted yet become tombstones.
            let erased = try await ChatctlTests.chatctl(
                ["user", "delete", "bob", "--yes", "--erase-messages", "--json", "--socket", socket])
            #expect(erased.json["erased_messages"].int == 2, "\(erased.stdout)")
            let after = try await api.call(.get, "/v1/conversations/\(group)/messages", token: carol.token)
            #expect(after["messages"].array.allSatisfy { $0["text"].isNull }, "\(after.text)")
        }
    }
}
