import ChatCore
import ChatFiles
import Foundation
import Synchronization

/// The bytes of one upload in progress, in `uploads/temp/{id}`, and which PUT owns them. A phone that lost its
/// connection resumes with a new PUT before the server noticed the old one was gone: the newer PUT takes the upload
/// over. Every write, truncation and the final rename checks the owner under the slot's lock, so an older PUT still
/// running can never write into bytes the newer one reset, resumed from or moved into place.
final class UploadSlot: Sendable {
    let path: String
    private let owner = Mutex<Int>(0)

    init(path: String) {
        self.path = path
    }

    struct Superseded: Error {}

    /// Makes `receiver` the owner (the previous one stops at its next step); returns how many bytes are in.
    func takeOver(by receiver: Int, truncate: Bool) throws -> Int64 {
        try owner.withLock { current in
            current = receiver
            let descriptor = open(path, O_RDWR | O_CREAT, 0o600)
            guard descriptor >= 0 else { throw failure("open") }
            defer { close(descriptor) }
            if truncate, ftruncate(descriptor, 0) != 0 { throw failure("truncate") }
            var status = stat()
            guard fstat(descriptor, &status) == 0 else { throw failure("stat") }
            return Int64(status.st_size)
        }
    }

    /// Writes `bytes` at `offset` if `receiver` still owns the upload.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64, by receiver: Int, descriptor: Int32) throws {
        try owner.withLock { current in
            guard current == receiver else { throw Superseded() }
            var done = 0
            while done < bytes.count {
                let written = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
                guard written > 0 else { throw failure("write") }
                done += written
            }
        }
    }

    /// Cuts the file back to `length` (undoing a part) if `receiver` still owns the upload.
    func truncate(to length: Int64, by receiver: Int, descriptor: Int32) throws {
        try owner.withLock { current in
            guard current == receiver else { throw Superseded() }
            guard ftruncate(descriptor, off_t(length)) == 0 else { throw failure("truncate") }
        }
    }

    /// Syncs the complete file and renames it into its final place, if `receiver` still owns the upload.
    func finish(to final: URL, by receiver: Int) throws {
        try owner.withLock { current in
            guard current == receiver else { throw Superseded() }
            try DurableFile.commit(URL(fileURLWithPath: path), to: final)
        }
    }

    func owned(by receiver: Int) -> Bool {
        owner.withLock { $0 == receiver }
    }

    private func failure(_ what: String) -> ChatError {
        ChatError(.internalError, "\(what) of an upload failed (errno \(errno))")
    }
}
