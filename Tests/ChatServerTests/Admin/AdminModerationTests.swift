import Foundation
import Testing

/// `chatctl conversation` and `chatctl message delete`: an operator sees any conversation and deletes a message
/// whoever sent it; members are told as for any delete.
@Suite struct AdminModerationTests {
    @Test func anOperatorDeletesAMessage() async throws {
        let config = testConfig()
        try await withServer(config) { api in
            let socket = try await adminSocket(config)
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let carol = try await api.register("carol")
            let group = try await api.group(alice, title: "Club", members: [bob, carol])
            _ = try await api.direct(bob, with: carol)
            try await api.send(bob, group, "something that has to go")
            try await api.send(carol, group, "fine")

            let all = try await ChatctlTests.chatctl(["conversation", "list", "--json", "--socket", socket])
            #expect(all.json["conversations"].array.count == 2)
            let alices = try await ChatctlTests.chatctl(["conversation", "list", "--user", "\(alice.id)", "--json", "--socket", socket])
            #expect(alices.json["conversations"].array.compactMap { $0["id"].int } == [group])
            let shown = try await ChatctlTests.chatctl(["conversation", "show", "\(group)", "--json", "--socket", socket])
            #expect(shown.json["conversation"]["title"].string == "Club")
            #expect(shown.json["conversation"]["last_seq"].int == 2)
            #expect(shown.json["members"].array.compactMap { $0["handle"].string }.sorted() == ["alice", "bob", "carol"])

            let (carolSocket, _) = try await api.liveSocket(carol)
            let deleted = try await ChatctlTests.chatctl(["message", "delete", "\(group)", "1", "--json", "--socket", socket])
            #expect(deleted.status == 0, "\(deleted.stderr)")
            #expect(deleted.json["message"]["deleted_at"].int != nil)
            let event = try await carolSocket.next(type: "event")
            #expect(event["event"]["type"].string == "message.deleted")
            #expect(event["event"]["data"]["message"]["seq"].int == 1)
            let history = try await api.call(.get, "/v1/conversations/\(group)/messages", token: carol.token)
            #expect(history["messages"][0]["text"].isNull)
            #expect(history["messages"][1]["text"].string == "fine")
            let search = try await api.call(.get, "/v1/search?q=something", token: carol.token)
            #expect(search["results"].array.isEmpty, "gone from search too")
            let missing = try await ChatctlTests.chatctl(["message", "delete", "\(group)", "9", "--socket", socket])
            #expect(missing.status == 1 && missing.stderr.contains("not_found"))
            await carolSocket.close()
        }
    }
}
