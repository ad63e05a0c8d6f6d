import ArgumentParser
import ChatCore
import ChatStore
import Foundation
import GRDB

/// `chatbench store`: concurrent senders through the real store (`Store.sendMessage`: message row, event row, search
/// index, counters, one group-committed transaction per batch, `synchronous=FULL`), against the disk's ceiling
/// measured in the same run (plain inserts of rows of the same size, 100 per transaction, same pragmas), and history
/// page reads on a conversation of `--history-messages` messages. Between the two it measures the **floor**: the
/// contract's message row alone (its two unique indexes, nothing else a send does), one row per sender's conversation
/// per transaction, which is the most group commit can batch when each sender waits for its acknowledgement. The floor
/// says how far any send that keeps those invariants can get from the ceiling on this machine.
struct StoreScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Durable message writes and history reads through the store layer.")

    @Option(help: "Concurrent senders.") var senders = 64
    @Option(help: "Seconds of sending (and of the ceiling measurement).") var seconds = 10.0
    @Option(help: "Messages in the conversation whose history pages are read.") var historyMessages = 1_000_000
    @Option(help: "History pages read for the latency figures.") var historyReads = 5_000
    @Option(help: "Folder for the benchmark's databases (a temporary folder by default; removed afterwards).")
    var directory: String?

    func run() async throws {
        let root = URL(fileURLWithPath: directory ?? NSTemporaryDirectory())
            .appendingPathComponent("chatbench-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }

        let ceiling = try measureCeiling(at: root.appendingPathComponent("ceiling"))
        print("ceiling: \(Int(ceiling)) rows/s (plain 100-row transactions, synchronous=FULL, WAL)")

        let floor = try measureFloor(at: root.appendingPathComponent("floor"))
        print(
            "floor: \(Int(floor)) rows/s (the message row alone with UNIQUE (conversation, seq) and UNIQUE (sender, client_id), \(senders) conversations, one row each per transaction); \(rounded(floor / ceiling)) of the ceiling"
        )

        let sends = try await measureSends(at: root.appendingPathComponent("sends"))
        let ratio = sends.perSecond / ceiling
        print(
            "store: \(Int(sends.perSecond)) messages/s from \(senders) senders; ack p50 \(rounded(sends.latencies.percentile(50))) ms, p99 \(rounded(sends.latencies.percentile(99))) ms; \(rounded(sends.batch, 1)) messages per commit; ratio \(rounded(ratio)) (\(rounded(sends.perSecond / floor)) of the floor)"
        )

        let (history, bytesPerMessage) = try await measureHistory(at: root.appendingPathComponent("history"))
        print(
            "history: \(historyMessages) messages; page of 50 p50 \(rounded(history.percentile(50))) ms, p99 \(rounded(history.percentile(99))) ms over \(history.count) reads"
        )
        printResult([
            "scenario": "store", "senders": senders, "msgs_per_s": Int(sends.perSecond),
            "p50_ms": rounded(sends.latencies.percentile(50)), "p99_ms": rounded(sends.latencies.percentile(99)),
            "ceiling_rows_per_s": Int(ceiling), "ratio": rounded(ratio),
            "floor_rows_per_s": Int(floor), "floor_ratio": rounded(floor / ceiling),
            "messages_per_commit": rounded(sends.batch, 1), "history_messages": historyMessages,
            "history_p50_ms": rounded(history.percentile(50)), "history_p99_ms": rounded(history.percentile(99)),
            "disk_bytes_per_msg": Int(bytesPerMessage),
        ])
    }

    /// Rows/s of plain inserts of message-sized rows, 100 per transaction, with the store's pragmas.
    func measureCeiling(at directory: URL) throws -> Double {
        try measureRowInserts(at: directory, constraints: "", rowsPerTransaction: 100) { row in
            (conversation: row % 64, seq: row)
        }
    }

    /// Rows/s of the same rows with the two unique indexes every message row must have, spread over `senders`
    /// conversations like the sends, one row per conversation in each transaction.
    func measureFloor(at directory: URL) throws -> Double {
        try measureRowInserts(
            at: directory, constraints: ", UNIQUE (conversation_id, seq), UNIQUE (sender_id, client_id)",
            rowsPerTransaction: senders
        ) { row in
            (conversation: row % senders, seq: row / senders + 1)
        }
    }

    /// Inserts message-sized rows from one thread, `rowsPerTransaction` per transaction, WAL and
    /// `synchronous=FULL`, for `--seconds`; returns rows/s. Row `n` goes to conversation and seq `place(n)`,
    /// and its sender is the conversation's.
    func measureRowInserts(
        at directory: URL, constraints: String, rowsPerTransaction: Int,
        place: (Int) -> (conversation: Int, seq: Int)
    ) throws -> Double {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pool = try DatabasePool(path: directory.appendingPathComponent("rows.sqlite").path)
        // Set once the pool is open, as the store does: GRDB sets NORMAL on the writer when it turns WAL on.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try pool.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE rows (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL, seq INTEGER NOT NULL,
                        sender_id INTEGER NOT NULL, client_id TEXT NOT NULL, body TEXT, created_at INTEGER NOT NULL
                        \(constraints))
                    """)
        }
        let texts = (0..<1024).map(sampleText)
        let deadline = now() + UInt64(seconds * 1e9)
        let start = now()
        var rows = 0
        while now() < deadline {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction {
                    let statement = try db.cachedStatement(
                        sql: "INSERT INTO rows (conversation_id, seq, sender_id, client_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?)")
                    for _ in 0..<rowsPerTransaction {
                        let (conversation, seq) = place(rows)
                        rows += 1
                        try statement.execute(
                            arguments: [conversation, seq, conversation, clientID(rows), texts[rows % texts.count], rows])
                    }
                    return .commit
                }
            }
        }
        try pool.close()
        return Double(rows) / (Double(now() - start) / 1e9)
    }

    struct SendFigures {
        var perSecond: Double
        var latencies: Latencies
        var batch: Double
        /// CPU time of this whole process during the sends, and of the WAL shipper's part of it.
        var cpuSeconds: Double = 0
        var shippingCPUSeconds: Double = 0
        /// Bytes the shipper wrote to the archive during the sends.
        var shippedBytes: Int64 = 0
        /// With shipping: checkpoints, and the writer's time held in their barriers.
        var checkpoints = CheckpointFigures()
    }

    /// Each sender has its own direct conversation with a shared peer and sends as fast as its acks come back.
    func measureSends(at directory: URL, shipping: WALShipping? = nil) async throws -> SendFigures {
        let store = try Store(directory: directory, durability: .full, shipping: shipping)
        let peer = try await store.accounts.createUser(handle: "peer", displayName: "Peer", passwordHash: nil).id
        var conversations: [(UserID, ConversationID)] = []
        for index in 0..<senders {
            let user = try await store.accounts.createUser(handle: "sender\(index)", displayName: "S", passwordHash: nil).id
            conversations.append((user, try await store.conversations.openDirect(user: user, peer: peer).0.id))
        }
        let texts = (0..<1024).map(sampleText)
        let before = store.writeStatistics
        let cpuBefore = processCPUMicroseconds(getpid())
        let shippingBefore = store.walShipper?.cpuNanoseconds ?? 0
        let shippedBefore = store.walShipper?.figures.shippedBytes ?? 0
        let start = now()
        let deadline = start + UInt64(seconds * 1e9)
        let latencies = try await withThrowingTaskGroup(of: Latencies.self) { group in
            for (index, (user, conversation)) in conversations.enumerated() {
                group.addTask {
                    var latencies = Latencies()
                    var sequence = 0
                    while now() < deadline {
                        sequence += 1
                        let sent = now()
                        _ = try await store.messages.sendMessage(
                            sender: user, conversation: conversation, clientId: clientID(index * 100_000_000 + sequence),
                            text: texts[sequence % texts.count])
                        latencies.add(now() - sent)
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: Latencies()) { $0.add(contentsOf: $1) }
        }
        let elapsed = Double(now() - start) / 1e9
        let after = store.writeStatistics
        let cpu = Double(processCPUMicroseconds(getpid()) - cpuBefore) / 1e6
        let shippingCPU = Double((store.walShipper?.cpuNanoseconds ?? 0) - shippingBefore) / 1e9
        let shippedBytes = (store.walShipper?.figures.shippedBytes ?? 0) - shippedBefore
        let checkpoints = store.checkpointFigures
        try store.close()
        let batch = Double(after.writes - before.writes) / Double(max(1, after.transactions - before.transactions))
        return SendFigures(
            perSecond: Double(latencies.count) / elapsed, latencies: latencies, batch: batch, cpuSeconds: cpu,
            shippingCPUSeconds: shippingCPU, shippedBytes: shippedBytes, checkpoints: checkpoints)
    }

    /// Fills one conversation with `historyMessages` messages (bulk SQL in the store's schema, with events and the
    /// search index, like sends), then reads random pages of 50 through `Store.history`.
    func measureHistory(at directory: URL) async throws -> (latencies: Latencies, bytesPerMessage: Double) {
        let (alice, _, conversation, bytes) = try await Self.fill(directory, messages: historyMessages)
        let bytesPerMessage = Double(bytes) / Double(max(1, historyMessages))
        let store = try Store(directory: directory)
        var latencies = Latencies()
        for read in 0..<historyReads {
            let before = read == 0 ? nil : Seq.random(in: 51...Int64(max(51, historyMessages)))
            let start = now()
            let page = try await store.messages.history(conversation: conversation, for: alice, before: before, after: nil, limit: 50)
            latencies.add(now() - start)
            precondition(page.messages.count == min(50, historyMessages), "a history page came back short")
        }
        try store.close()
        return (latencies, bytesPerMessage)
    }

    /// A store in `directory` whose one conversation holds `messages` messages of 100 bytes, written with bulk SQL in
    /// the store's schema (message rows, events, the search index, like sends); the database's size in bytes.
    static func fill(_ directory: URL, messages historyMessages: Int) async throws
        -> (alice: UserID, bob: UserID, conversation: ConversationID, bytes: Int)
    {
        let store = try Store(directory: directory, durability: .normal)
        let alice = try await store.accounts.createUser(handle: "alice", displayName: "A", passwordHash: nil).id
        let bob = try await store.accounts.createUser(handle: "bob", displayName: "B", passwordHash: nil).id
        let conversation = try await store.conversations.openDirect(user: alice, peer: bob).0.id
        try store.close()

        let fillStart = now()
        var configuration = Configuration()
        configuration.prepareDatabase { StoreDatabase.prepareConnection($0) }
        let queue = try DatabaseQueue(path: directory.appendingPathComponent("chatd.sqlite").path, configuration: configuration)
        let chunk = 50_000
        var seq = 0
        while seq < historyMessages {
            try queue.inTransaction { db in
                let message = try db.cachedStatement(
                    sql: "INSERT INTO messages (conversation_id, seq, sender_id, client_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?)")
                let search = try db.cachedStatement(sql: "INSERT INTO messages_fts (rowid, body) VALUES (?, ?)")
                // 6 is message.created's storage code (EventData.swift).
                let event = try db.cachedStatement(
                    sql: "INSERT INTO events (type, conversation_id, message_id, created_at) VALUES (6, ?, ?, ?)")
                let cursor = try db.cachedStatement(sql: "UPDATE messages SET cursor = ? WHERE id = ?")
                for _ in 0..<min(chunk, historyMessages - seq) {
                    seq += 1
                    let sender = seq % 2 == 0 ? alice : bob
                    let text = sampleText(seq)
                    try message.execute(arguments: [conversation, seq, sender, clientID(seq), text, seq])
                    let id = db.lastInsertedRowID
                    try search.execute(arguments: [id, text])
                    try event.execute(arguments: [conversation, id, seq])
                    try cursor.execute(arguments: [db.lastInsertedRowID, id])
                }
                try db.execute(
                    sql: "UPDATE conversations SET last_seq = ?, last_activity_at = ? WHERE id = ?",
                    arguments: [seq, seq, conversation])
                return .commit
            }
        }
        try await queue.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        let bytes = try await queue.read { db in
            try Int.fetchOne(db, sql: "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()") ?? 0
        }
        try queue.close()
        print(
            "filled \(historyMessages) messages of 100 bytes in \(rounded(Double(now() - fillStart) / 1e9, 1)) s; database \(bytes / 1_048_576) MiB, \(bytes / max(1, historyMessages)) bytes per message (rows, event, search index, indexes)"
        )
        return (alice, bob, conversation, bytes)
    }
}
