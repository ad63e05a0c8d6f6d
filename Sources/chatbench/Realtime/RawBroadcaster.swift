import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The raw ceiling of a broadcast: a plain listening socket whose connections receive the same frame bytes chatd
/// would send (a `message.created` event frame of the same size), written with one `write()` per delivery from one
/// thread — no framework, no hub, no store. The workers read them with the same client code as chatd's frames.
final class RawBroadcaster: @unchecked Sendable {
    // @unchecked: `accept` and `broadcast` are called from one task, one after the other.
    private let listener: Int32
    private var clients: [Int32] = []
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4096) == 0 else { throw BenchError("raw listener: bind/listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Accepts `count` connections (the workers connect them meanwhile).
    func accept(count: Int) async {
        let listener = self.listener
        clients = await Task.detached {
            var accepted: [Int32] = []
            while accepted.count < count {
                let fd = Glibc.accept(listener, nil, nil)
                if fd >= 0 {
                    var yes: Int32 = 1
                    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
                    accepted.append(fd)
                }
            }
            return accepted
        }.value
    }

    /// Writes message `number` to every connection, one `write()` each; returns the send time it carries.
    func broadcast(_ number: Int) -> UInt64 {
        let sentAt = monotonicNow()
        let frame = Self.frame(number: number, sentAt: sentAt)
        frame.withUnsafeBytes { bytes in
            for fd in clients {
                var offset = 0
                while offset < bytes.count {
                    let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
        return sentAt
    }

    func close() {
        for fd in clients { Glibc.close(fd) }
        Glibc.close(listener)
    }

    /// An unmasked server text frame carrying an event shaped like chatd's `message.created` (100-byte text).
    static func frame(number: Int, sentAt: UInt64) -> [UInt8] {
        var text = "t=\(sentAt);"
        text += String(repeating: "x", count: max(0, 100 - text.utf8.count))
        let at = Int64(Date().timeIntervalSince1970 * 1000)
        let event =
            "{\"type\":\"event\",\"event\":{\"cursor\":\(1000 + number),\"type\":\"message.created\",\"conversation_id\":1,\"at\":\(at),\"data\":{\"message\":{\"client_id\":\"c0_\(sentAt)\",\"conversation_id\":1,\"created_at\":\(at),\"id\":\(number),\"reactions\":[],\"sender_id\":1,\"seq\":\(number),\"text\":\"\(text)\"}}}}"
        let payload = Array(event.utf8)
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(UInt8(payload.count))
        } else {
            frame += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        return frame + payload
    }
}
