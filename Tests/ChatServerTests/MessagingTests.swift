import Foundation
import Testing

@testable import ChatServer

/// Idempotent sends under concurrent retries, and the edges of every page.
@Suite struct MessagingTests {
    @Test func concurrentRetriesOfOneSendStoreOneMessage() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let conversation = try await api.direct(alice, with: bob)
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<24 {
                    group.addTask { try await api.send(alice, conversation, "only once", clientId: "retry-me") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.filter { $0.status == 201 }.count == 1)
            #expect(replies.filter { $0.status == 200 }.count == 23)
            #expect(Set(replies.compactMap { $0["message"]["id"].int }).count == 1)
            #expect(Set(replies.compactMap { $0["cursor"].int }).count == 1)
            let history = try await api.call(.get, "/v1/conversations/\(conversation)/messages", token: bob.token)
            #expect(history["messages"].array.count == 1)
            // The same client_id in another conversation is a client bug, not a retry.
            let carol = try await api.register("carol")
            let other = try await api.direct(alice, with: carol)
            let reused = try await api.send(alice, other, "only once", clientId: "retry-me")
            #expect(reused.status == 409)
        }
    }

    @Test func concurrentSendersGetGapFreeSeqs() async throws {
        try await withServer { api in
            let users = try await withThrowingTaskGroup(of: TestUser.self) { group in
                for index in 0..<8 { group.addTask { try await api.register("user\(index)") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let group = try await api.group(users[0], title: "busy", members: Array(users.dropFirst()))
            let seqs = try await withThrowingTaskGroup(of: Int64.self) { tasks in
                for user in users {
                    for index in 0..<10 {
                        tasks.addTask { try await api.send(user, group, "\(user.handle) #\(index)")["message"]["seq"].int ?? -1 }
                    }
                }
                return try await tasks.reduce(into: []) { $0.append($1) }
            }
            #expect(seqs.sorted() == Array(1...80))
        }
    }

    @Test func historyPagesCoverEverySeqOnceAndStopAtTheEdges() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let conversation = try await api.direct(alice, with: bob)
            for index in 1...250 { try await api.send(alice, conversation, "message \(index)") }
            let path = "/v1/conversations/\(conversation)/messages"

            // Backwards from the newest, 100 at a time.
            var seen: [Int64] = []
            var before: Int64?
            var pages = 0
            while true {
                let reply = try await api.call(
                    .get, path + "?limit=100" + (before.map { "&before=\($0)" } ?? ""), token: bob.token)
                let seqs = reply["messages"].array.compactMap { $0["seq"].int }
                #expect(seqs == seqs.sorted(), "a page is in seq order")
                seen = seqs + seen
                pages += 1
                guard reply["has_more"].bool == true else { break }
                before = seqs.first
            }
            #expect(pages == 3)
            #expect(seen == Array(1...250))

            // Forwards from the start.
            let firstPage = try await api.call(.get, path + "?after=0&limit=100", token: bob.token)
            #expect(firstPage["messages"].array.first?["seq"].int == 1)
            #expect(firstPage["has_more"].bool == true)
            let lastPage = try await api.call(.get, path + "?after=200&limit=100", token: bob.token)
            #expect(lastPage["messages"].array.compactMap { $0["seq"].int } == Array(201...250))
            #expect(lastPage["has_more"].bool == false)
            // Exactly at the edges.
            let exact = try await api.call(.get, path + "?after=150&limit=100", token: bob.token)
            #expect(exact["messages"].array.count == 100)
            #expect(exact["has_more"].bool == false)
            #expect(try await api.call(.get, path + "?after=250", token: bob.token)["messages"].array.isEmpty)
            #expect(try await api.call(.get, path + "?before=1", token: bob.token)["messages"].array.isEmpty)
            let window = try await api.call(.get, path + "?after=10&before=14", token: bob.token)
            #expect(window["messages"].array.compactMap { $0["seq"].int } == [11, 12, 13])
            let latest = try await api.call(.get, path + "?limit=1", token: bob.token)
            #expect(latest["messages"][0]["seq"].int == 250)
        }
    }

    @Test func conversationListAndSyncPaginate() async throws {
        try await withServer { api in
            let hub = try await api.register("hub")
            var peers: [TestUser] = []
            for index in 0..<7 { peers.append(try await api.register("peer\(index)")) }
            for peer in peers {
                let conversation = try await api.direct(hub, with: peer)
                try await api.send(peer, conversation, "hi from \(peer.handle)")
            }
            var handles: [String] = []
            var before: String?
            repeat {
                let reply = try await api.call(
                    .get, "/v1/conversations?limit=3" + (before.map { "&before=\($0)" } ?? ""), token: hub.token)
                handles += reply["conversations"].array.compactMap { $0["peer"]["handle"].string }
                before = reply["next"].string
            } while before != nil
            #expect(handles == peers.reversed().map(\.handle), "newest activity first, each once")
            #expect(try await api.call(.get, "/v1/conversations?before=junk", token: hub.token).status == 400)

            var events: [Int64] = []
            var cursor: Int64 = 0
            while true {
                let page = try await api.call(.get, "/v1/sync?cursor=\(cursor)&limit=4", token: hub.token)
                events += page["events"].array.compactMap { $0["cursor"].int }
                cursor = page["cursor"].int!
                if page["has_more"].bool != true { break }
            }
            #expect(events.count == 14)
            #expect(events == events.sorted())
            let beyond = try await api.call(.get, "/v1/sync?cursor=\(cursor + 1000)", token: hub.token)
            #expect(beyond.status == 410)
            #expect(beyond.errorCode == "reset_required")
        }
    }
}
