import CZlib
import ChatCore
import Foundation
import GRDB
import Synchronization
import Testing

@testable import ChatStore

/// Snapshots taken while writes go on, and point-in-time recovery from the shipped WAL, on real SQLite files.
@Suite struct BackupTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("chatd-backup-\(UUID().uuidString)")
    var data: URL { root.appendingPathComponent("db") }
    var archive: URL { root.appendingPathComponent("wal") }
    var snapshots: SnapshotFolder { SnapshotFolder(directory: root.appendingPathComponent("backups")) }

    func open() throws -> Store {
        try Store(directory: data, shipping: WALShipping(archive: archive, interval: .seconds(3600)))
    }

    func conversation(_ store: Store) async throws -> (UserID, ConversationID) {
        let alice = try await store.accounts.createUser(handle: "alice", displayName: "Alice", passwordHash: nil).id
        let bob = try await store.accounts.createUser(handle: "bob", displayName: "Bob", passwordHash: nil).id
        return (alice, try await store.conversations.openDirect(user: alice, peer: bob).0.id)
    }

    /// Sends `count` messages at once (so they share group commits); returns their texts once all are acknowledged.
    @discardableResult
    func send(_ store: Store, _ sender: UserID, _ conversation: ConversationID, _ prefix: String, _ count: Int)
        async throws -> Set<String>
    {
        try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<count {
                group.addTask {
                    let text = "\(prefix)\(index)"
                    _ = try await store.messages.sendMessage(
                        sender: sender, conversation: conversation, clientId: text, text: text)
                    return text
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
    }

    /// The texts in a database file, after SQLite's own integrity check.
    func texts(in file: URL) throws -> Set<String> {
        let queue = try DatabaseQueue(path: file.path)
        defer { try? queue.close() }
        return try queue.read { db in
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
            return Set(try String.fetchAll(db, sql: "SELECT body FROM messages"))
        }
    }

    /// Waits for the wall clock to pass `time`, so what commits next is strictly after it.
    func clockPasses(_ time: Millis) {
        while Clock.nowMillis() <= time {}
    }

    @Test func aRestoreToAMomentFindsExactlyWhatCommittedBeforeIt() async throws {
        let store = try open()
        let (alice, direct) = try await conversation(store)
        let early = try await send(store, alice, direct, "a", 50)
        let snapshot = try await store.snapshot(into: snapshots, mediaRoot: nil)
        #expect(snapshot.counts.messages == 50)
        #expect(snapshot.walStart != nil)
        var before = early
        before.formUnion(try await send(store, alice, direct, "b", 150))
        try await store.checkpoint()  // ships, checkpoints; the next write starts a new generation of the log
        before.formUnion(try await send(store, alice, direct, "c", 150))
        try store.walShipper!.ship()
        let moment = Clock.nowMillis()
        clockPasses(moment)
        var after = try await send(store, alice, direct, "d", 100)
        try await store.checkpoint()
        after.formUnion(try await send(store, alice, direct, "e", 100))
        try store.close()
        let generations = Set(try WALShipper.segments(in: archive).map { try WALSegment.header(of: $0).generation })
        #expect(generations.count >= 3, "the log was reset twice: \(generations)")

        let chosen = try #require(try PointInTimeRestore.snapshot(for: moment, among: snapshots.list(), archive: archive))
        #expect(chosen.name == snapshot.name)
        let restore = PointInTimeRestore(
            snapshot: chosen, snapshotFile: snapshots.folder(chosen.name).appendingPathComponent("chatd.sqlite"),
            archive: archive)
        let atMoment = root.appendingPathComponent("at-moment.sqlite")
        let outcome = try restore.build(at: moment, into: atMoment)
        #expect(outcome.restoredTo <= moment)
        #expect(try texts(in: atMoment) == before)

        let atEnd = root.appendingPathComponent("at-end.sqlite")
        _ = try restore.build(at: Clock.nowMillis(), into: atEnd)
        #expect(try texts(in: atEnd) == before.union(after))
        // The restored file is a working chatd database: it opens, and takes the next message.
        let reopened = root.appendingPathComponent("reopened")
        try FileManager.default.createDirectory(at: reopened, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: atEnd, to: reopened.appendingPathComponent("chatd.sqlite"))
        let restored = try Store(directory: reopened)
        let next = try await restored.messages.sendMessage(sender: alice, conversation: direct, clientId: "f", text: "f")
        #expect(next.message.seq == Int64(before.count + after.count + 1))
        try restored.close()
    }

    /// Checkpoints run beside the writer (bounded by a read at the shipped end, not in a pause of the sends): with
    /// commits landing during each one and the log reset after, a replay still finds every acknowledged message.
    @Test func checkpointsBesideOngoingWritesLoseNoFrame() async throws {
        let store = try open()
        let (alice, direct) = try await conversation(store)
        let snapshot = try await store.snapshot(into: snapshots, mediaRoot: nil)
        let acknowledged = Mutex<Set<String>>([])
        let done = Atomic<Bool>(false)
        let writers = Task {
            defer { done.store(true, ordering: .relaxed) }
            for round in 0..<60 {
                let texts = try await send(store, alice, direct, "r\(round)-", 20)
                acknowledged.withLock { $0.formUnion(texts) }
            }
        }
        var checkpoints = 0
        while !done.load(ordering: .relaxed) || checkpoints < 3 {
            try await store.checkpoint()
            checkpoints += 1
        }
        try await writers.value
        try store.close()
        let generations = Set(try WALShipper.segments(in: archive).map { try WALSegment.header(of: $0).generation })
        #expect(generations.count >= 2, "the log was reset under the writes: \(generations)")
        let restore = PointInTimeRestore(
            snapshot: snapshot, snapshotFile: snapshots.folder(snapshot.name).appendingPathComponent("chatd.sqlite"),
            archive: archive)
        let atEnd = root.appendingPathComponent("at-end.sqlite")
        _ = try restore.build(at: Clock.nowMillis(), into: atEnd)
        #expect(try texts(in: atEnd) == acknowledged.withLock { $0 })
    }

    @Test func aSnapshotUnderWriteLoadHoldsEveryAcknowledgedWrite() async throws {
        let store = try open()
        let (alice, direct) = try await conversation(store)
        let acknowledged = Mutex<Set<String>>([])
        let writers = Task {
            for round in 0..<40 {
                let texts = try await send(store, alice, direct, "r\(round)-", 25)
                acknowledged.withLock { $0.formUnion(texts) }
            }
        }
        try await send(store, alice, direct, "warm", 100)
        let beforeSnapshot = acknowledged.withLock { $0 }.union((0..<100).map { "warm\($0)" })
        let snapshot = try await store.snapshot(into: snapshots, mediaRoot: nil)
        try await writers.value
        try store.close()
        let inSnapshot = try texts(in: snapshots.folder(snapshot.name).appendingPathComponent("chatd.sqlite"))
        #expect(beforeSnapshot.isSubset(of: inSnapshot))
        #expect(Int64(inSnapshot.count) == snapshot.counts.messages)
    }

    /// Segments are written compressed (pages shrink several times) and read back frame for frame; segments of an
    /// older chatd still read: version 2 (zlib) and version 1 (uncompressed).
    @Test func segmentsAreCompressedAndTheUncompressedFormatStillReads() throws {
        let salt = WALSalt(first: 7, second: 9)
        let page = Array(repeating: UInt8(0), count: 3000) + Array("hello, world ".utf8.prefix(13)) + Array(repeating: UInt8(0), count: 1083)
        let frames = (1...4).map { WALFrame(page: UInt32($0), commitSize: $0 == 4 ? 4 : 0, salt: salt, data: page) }
        let segment = WALSegment(
            header: WALSegment.Header(
                generation: 2, salt: salt, firstFrame: 11, lastFrame: 14, pageSize: 4096,
                commits: [WALSegment.Commit(frame: 14, at: 1_000)]),
            frames: frames)
        let encoded = try segment.encoded()
        #expect(encoded.count < 4 * 4096 / 4, "4 pages in \(encoded.count) bytes")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let file = root.appendingPathComponent(segment.fileName)
        try encoded.write(to: file)
        let read = try WALSegment.read(file)
        #expect(read.header.commits == segment.header.commits)
        #expect(read.frames.map(\.page) == [1, 2, 3, 4])
        #expect(read.frames.allSatisfy { $0.data == page })

        var version1 = Data(WALSegment.uncompressedMagic.utf8)
        version1.append(try JSONEncoder().encode(segment.header))
        version1.append(0x0A)
        for frame in frames {
            var bytes: [UInt8] = []
            bytes.appendBigEndian(frame.page)
            bytes.appendBigEndian(frame.commitSize)
            version1.append(contentsOf: bytes + frame.data)
        }
        try version1.write(to: file)
        #expect(try WALSegment.read(file).frames.map(\.data) == frames.map(\.data))

        let packed = Array(version1.suffix(4 * (8 + 4096)))
        var deflated = [UInt8](repeating: 0, count: Int(compressBound(uLong(packed.count))))
        var length = uLongf(deflated.count)
        #expect(compress2(&deflated, &length, packed, uLong(packed.count), 1) == Z_OK)
        var zlibHeader = segment.header
        zlibHeader.compressedBytes = Int(length)
        var version2 = Data(WALSegment.zlibMagic.utf8)
        version2.append(try JSONEncoder().encode(zlibHeader))
        version2.append(0x0A)
        version2.append(contentsOf: deflated.prefix(Int(length)))
        try version2.write(to: file)
        #expect(try WALSegment.read(file).frames.map(\.data) == frames.map(\.data))
        // A segment cut short is refused, not half read.
        try encoded.prefix(encoded.count - 10).write(to: file)
        #expect(throws: StoreError.self) { try WALSegment.read(file) }
    }

    @Test func snapshotsArePrunedToTheNewest() async throws {
        let store = try open()
        var names: [String] = []
        for index in 0..<3 {
            let stamp = Millis(1_800_000_000_000 + index * 1000)
            names.append(try await store.snapshot(into: snapshots, mediaRoot: nil, now: { stamp }).name)
        }
        try store.close()
        #expect(try snapshots.list().map(\.name) == names)
        #expect(try snapshots.prune(keep: 2) == [names[0]])
        #expect(try snapshots.list().map(\.name) == Array(names.suffix(2)))
    }
}
