import ChatCore
import ChatMedia
import ChatStore
import Foundation
import GRDB
import Logging
import NIOCore
import Testing

@testable import ChatServer

@Suite struct NotifyTests {
    /// A message's notify job records a notification for each member who was not connected and has not muted the
    /// conversation, and for nobody else.
    @Test func membersWhoAreAwayAreNotified() async throws {
        let config = testConfig()
        try await withServer(config) { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let carol = try await api.register("carol")
            let dave = try await api.register("dave")
            let group = try await api.group(alice, title: "Trip", members: [bob, carol, dave])
            #expect(try await api.call(.put, "/v1/conversations/\(group)/mute", token: dave.token).status == 200)
            let (carolSocket, _) = try await api.liveSocket(carol)
            let sent = try await api.send(alice, group, "Train at 9?")
            #expect(sent.status == 201)
            let database = try DatabaseQueue(path: config.storage.dataDirectory + "/db/chatd.sqlite")
            try await eventually {
                try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs") == 0 }
            }
            let rows = try database.read { db in
                try Row.fetchAll(db, sql: "SELECT user_id, title, body FROM notifications ORDER BY user_id")
            }
            #expect(rows.map { $0[0] as Int64 } == [bob.id], "carol was connected, dave muted it, alice sent it")
            #expect(rows.first?[1] as String? == "Trip")
            #expect(rows.first?[2] as String? == "alice: Train at 9?")
            await carolSocket.close()
        }
    }
}

/// The daily cleanup on a real store and media folder, with its clock moved forward.
@Suite struct CleanupTests {
    @Test func abandonedUploadsUnusedMediaAndStrayFilesAreFound() async throws {
        let config = testConfig()
        defer { try? FileManager.default.removeItem(atPath: config.storage.dataDirectory) }
        let services = try await ChatServices.make(config: config, logger: Logger(label: "test"))
        defer { try? services.store.close() }
        let store = try #require(services.store as? Store)
        let alice = try await store.accounts.createUser(handle: "alice", displayName: "A", passwordHash: nil).id
        let bob = try await store.accounts.createUser(handle: "bob", displayName: "B", passwordHash: nil).id
        let (direct, _) = try await store.conversations.openDirect(user: alice, peer: bob)
        let library = services.media
        let now = Clock.nowMillis()
        func complete(_ text: String) async throws -> Media {
            let ticket = try await library.startUpload(
                owner: alice, size: Int64(text.utf8.count), filename: "f.txt", declaredType: "text/plain", sha256: nil, now: now)
            let body = AsyncStream<ByteBuffer> { $0.yield(ByteBuffer(string: text)); $0.finish() }
            guard case .complete(let media) = try await library.receive(ticket.upload, part: nil, body: body) else {
                throw ChatError.invalid("not complete")
            }
            return media
        }
        // An upload never finished: half its bytes on disk.
        let abandoned = try await library.startUpload(
            owner: alice, size: 100, filename: "half.bin", declaredType: "application/octet-stream", sha256: nil, now: now)
        let half = AsyncStream<ByteBuffer> { $0.yield(ByteBuffer(string: String(repeating: "x", count: 50))); $0.finish() }
        _ = try await library.receive(abandoned.upload, part: nil, body: half)
        let kept = try await complete("kept: carried by a live message")
        let deleted = try await complete("carried by a message that was deleted")
        let neverSent = try await complete("never sent")
        _ = try await store.messages.sendMessage(sender: alice, conversation: direct.id, clientId: "1", text: "a", attachments: [kept.id])
        _ = try await store.messages.sendMessage(sender: alice, conversation: direct.id, clientId: "2", text: "b", attachments: [deleted.id])
        _ = try await store.messages.deleteMessage(conversation: direct.id, seq: 2, actor: alice)
        let stray = library.disk.finalUploads.appendingPathComponent("\(alice)/" + String(repeating: "e", count: 32))
        try Data("nobody's".utf8).write(to: stray)
        // What a process killed mid-write leaves: a display image written aside, never renamed.
        let aside = library.disk.displayImages.appendingPathComponent(".7.jpg.1234.part")
        try Data("half an image".utf8).write(to: aside)
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: aside.path)

        // A day later: only the abandoned upload is old enough to go.
        let dayLater = MediaCleanup(library: library, store: services.mediaStore, logger: Logger(label: "t"), clock: { now + 86_400_000 + 3_600_000 })
        let first = try await dayLater.pass()
        #expect(first.abandonedUploads == 1)
        #expect(first.purgedMedia == 0)
        #expect(!FileManager.default.fileExists(atPath: library.disk.temporary(upload: abandoned.upload.id).path))
        #expect(first.filesWithoutRecords == [stray.standardizedFileURL.path])
        #expect(first.recordsWithoutFiles == [])
        #expect(first.staleWorkingFiles == 1)
        #expect(!FileManager.default.fileExists(atPath: aside.path))

        // A month later: the media no live message carries goes, with its files; the rest stays.
        let monthLater = MediaCleanup(library: library, store: services.mediaStore, logger: Logger(label: "t"), clock: { now + 31 * 86_400_000 })
        try FileManager.default.removeItem(at: stray)
        let second = try await monthLater.pass()
        #expect(second.purgedMedia == 2)
        #expect(try await services.mediaStore.media(kept.id) != nil)
        #expect(try await services.mediaStore.media(deleted.id) == nil)
        #expect(try await services.mediaStore.media(neverSent.id) == nil)
        let originals = try FileManager.default.contentsOfDirectory(atPath: library.disk.finalUploads.appendingPathComponent("\(alice)").path)
        #expect(originals.count == 1)
        #expect(second.filesWithoutRecords == [])

        // A record whose file vanished is reported, not silently dropped.
        let keptFile = library.disk.original(owner: alice, upload: try #require(try await services.mediaStore.media(kept.id)).uploadId)
        try FileManager.default.removeItem(at: keptFile)
        #expect(try await monthLater.pass().recordsWithoutFiles == [kept.id])
    }
}

@Suite struct WithoutFFmpegTests {
    /// Without ffprobe and ffmpeg a video is a plain attachment: complete at once, no job, no variants.
    @Test func aVideoIsAPlainAttachment() async throws {
        let config = testConfig()
        defer { try? FileManager.default.removeItem(atPath: config.storage.dataDirectory) }
        let services = try await ChatServices.make(config: config, logger: Logger(label: "test"))
        defer { try? services.store.close() }
        let store = try #require(services.store as? Store)
        let library = MediaLibrary(
            disk: services.media.disk, limits: config.media, store: store.media,
            signer: URLSigner(secret: testSecret), processesVideo: false)
        let alice = try await store.accounts.createUser(handle: "alice", displayName: "A", passwordHash: nil).id
        let mp4: [UInt8] = [0, 0, 0, 24] + Array("ftypisom".utf8) + [UInt8](repeating: 0, count: 200)
        let ticket = try await library.startUpload(
            owner: alice, size: Int64(mp4.count), filename: "clip.mp4", declaredType: "video/mp4", sha256: nil,
            now: Clock.nowMillis())
        let body = AsyncStream<ByteBuffer> { $0.yield(ByteBuffer(bytes: mp4)); $0.finish() }
        guard case .complete(let media) = try await library.receive(ticket.upload, part: nil, body: body) else {
            Issue.record("the upload did not complete")
            return
        }
        #expect(media.kind == .video)
        #expect(media.contentType == "video/mp4")
        #expect(media.status == .ready)
        #expect(media.variants.isEmpty)
        #expect(try await store.jobs.jobs(queue: "media", state: nil, limit: 10).isEmpty)
    }
}
