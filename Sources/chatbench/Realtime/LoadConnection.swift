import ChatRealtime
import Foundation
import NIOCore

/// One client socket of a load worker: the WebSocket handshake, masked text frames out, and a frame reader that
/// pulls only what the benchmark needs out of each server frame (cursor, conversation, seq, the send time carried
/// in the text). The raw ceiling's connections use the same reader, minus the handshake.
final class LoadConnection: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: a worker runs one event loop; every connection and the worker live on it.
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let slot: Int
    let token: String
    /// Where this connection's sends go, in turn.
    let conversations: [Int64]
    private var nextConversation = 0
    unowned let worker: LoadWorker
    var channel: (any Channel)?
    private var handshaking: Bool
    private var pending: ByteBuffer?
    /// The last event cursor seen: the resume point.
    var cursor: Int64 = 0
    /// Last seq seen per conversation (messages arrive in seq order per conversation).
    private var lastSeq: [Int64: Int64] = [:]
    var synced = false

    /// A connection to the raw ceiling: no handshake, frames from the first byte.
    let isRaw: Bool

    init(slot: Int, token: String, conversations: [Int64], worker: LoadWorker, raw: Bool) {
        self.slot = slot
        self.token = token
        self.conversations = conversations
        self.worker = worker
        isRaw = raw
        handshaking = !raw
    }

    /// Continues where the previous socket of the same client stopped: its cursor and the seqs it has seen.
    func carry(from previous: LoadConnection) {
        cursor = previous.cursor
        lastSeq = previous.lastSeq
    }

    func channelActive(context: ChannelHandlerContext) {
        channel = context.channel
        worker.opened(self)
        guard handshaking else { return }
        let request =
            "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: request)), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        channel = nil
        worker.closed(self)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if var buffer = pending {
            buffer.writeBuffer(&incoming)
            pending = nil
            incoming = buffer
        }
        if handshaking {
            guard let end = incoming.readableBytesView.firstRange(of: [13, 10, 13, 10]) else {
                pending = incoming
                return
            }
            let head = incoming.readString(length: end.upperBound - incoming.readerIndex) ?? ""
            guard head.hasPrefix("HTTP/1.1 101") else {
                worker.failed(self)
                context.close(promise: nil)
                return
            }
            handshaking = false
            worker.upgraded(self)
            sendHello(context: context)
        }
        readFrames(&incoming, context: context)
        if incoming.readableBytes > 0 { pending = incoming }
    }

    private func readFrames(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        while buffer.readableBytes >= 2 {
            let start = buffer.readerIndex
            let first = buffer.getInteger(at: start, as: UInt8.self)!
            let second = buffer.getInteger(at: start + 1, as: UInt8.self)!
            var length = Int(second & 0x7F)
            var header = 2
            if length == 126 {
                guard let value = buffer.getInteger(at: start + 2, as: UInt16.self) else { return }
                length = Int(value)
                header = 4
            } else if length == 127 {
                guard let value = buffer.getInteger(at: start + 2, as: UInt64.self) else { return }
                length = Int(value)
                header = 10
            }
            guard buffer.readableBytes >= header + length else { return }
            buffer.moveReaderIndex(forwardBy: header)
            let payload = buffer.readSlice(length: length)!
            switch first & 0x0F {
            case 0x1: text(payload)
            case 0x8:
                worker.closedByServer(self, code: payload.getInteger(at: payload.readerIndex, as: UInt16.self) ?? 0)
                context.close(promise: nil)
            case 0x9: write(opcode: 0xA, payload: Array(payload.readableBytesView), context: context)
            default: break
            }
        }
    }

    private static let eventPrefix = Array(#"{"type":"event","event":{"cursor":"#.utf8)
    private static let replyPrefix = Array(#"{"type":"reply","id":"c"#.utf8)
    private static let syncedPrefix = Array(#"{"type":"synced","cursor":"#.utf8)
    private static let resetPrefix = Array(#"{"type":"reset_required","cursor":"#.utf8)
    private static let messageCreated = Array(#""type":"message.created""#.utf8)
    private static let conversationKey = Array(#""conversation_id":"#.utf8)
    private static let seqKey = Array(#","seq":"#.utf8)
    private static let timeKey = Array(#""text":"t="#.utf8)
    private static let statusKey = Array(#""status":"#.utf8)

    private func text(_ payload: ByteBuffer) {
        payload.withUnsafeReadableBytes { bytes in
            if bytes.starts(with: Self.eventPrefix) {
                let eventCursor = Self.integer(in: bytes, at: Self.eventPrefix.count)
                cursor = max(cursor, eventCursor)
                guard Self.find(Self.messageCreated, in: bytes) != nil,
                    let conversationAt = Self.find(Self.conversationKey, in: bytes),
                    let seqAt = Self.find(Self.seqKey, in: bytes),
                    let timeAt = Self.find(Self.timeKey, in: bytes)
                else { return }
                let conversation = Self.integer(in: bytes, at: conversationAt + Self.conversationKey.count)
                let seq = Self.integer(in: bytes, at: seqAt + Self.seqKey.count)
                let sentAt = UInt64(Self.integer(in: bytes, at: timeAt + Self.timeKey.count))
                // A conversation's first message on this client only starts the count (the client may have joined
                // at the head); after it, seqs must follow one by one.
                let last = lastSeq[conversation]
                if let last, seq <= last {
                    worker.duplicate()
                } else {
                    lastSeq[conversation] = seq
                    worker.received(sentAt: sentAt, gap: last.map { Int(seq - $0 - 1) } ?? 0)
                }
            } else if bytes.starts(with: Self.replyPrefix) {
                // The id is "c<slot>_<send time>".
                var index = Self.replyPrefix.count
                while index < bytes.count, bytes[index] != UInt8(ascii: "_") { index += 1 }
                let sentAt = UInt64(Self.integer(in: bytes, at: index + 1))
                let status = Self.find(Self.statusKey, in: bytes).map { Self.integer(in: bytes, at: $0 + Self.statusKey.count) } ?? 0
                worker.acknowledged(sentAt: sentAt, status: Int(status))
            } else if bytes.starts(with: Self.syncedPrefix) {
                cursor = max(cursor, Self.integer(in: bytes, at: Self.syncedPrefix.count))
                synced = true
                worker.synced(self)
            } else if bytes.starts(with: Self.resetPrefix) {
                cursor = max(cursor, Self.integer(in: bytes, at: Self.resetPrefix.count))
            }
        }
    }

    private static func find(_ pattern: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        var index = 0
        let last = bytes.count - pattern.count
        while index <= last {
            if bytes[index] == pattern[0] {
                var matched = 1
                while matched < pattern.count && bytes[index + matched] == pattern[matched] { matched += 1 }
                if matched == pattern.count { return index }
            }
            index += 1
        }
        return nil
    }

    private static func integer(in bytes: UnsafeRawBufferPointer, at start: Int) -> Int64 {
        var value: Int64 = 0
        var index = start
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
            value = value * 10 + Int64(bytes[index] - 48)
            index += 1
        }
        return value
    }

    // MARK: Sending

    private func sendHello(context: ChannelHandlerContext) {
        var hello = "{\"type\":\"hello\",\"id\":\"h\",\"token\":\"\(token)\""
        if worker.resume { hello += ",\"cursor\":\(cursor)" }
        write(opcode: 0x1, payload: Array((hello + "}").utf8), context: context)
    }

    /// Sends one 100-byte message carrying its send time; the reply's id carries it too.
    func sendMessage(at time: UInt64) {
        guard let channel, synced, !conversations.isEmpty else { return }
        let conversation = conversations[nextConversation % conversations.count]
        nextConversation += 1
        var text = "t=\(time);"
        text += String(repeating: "x", count: max(0, 100 - text.utf8.count))
        let frame =
            "{\"type\":\"send\",\"id\":\"c\(slot)_\(time)\",\"conversation_id\":\(conversation),\"client_id\":\"c\(slot)_\(time)\",\"text\":\"\(text)\"}"
        channel.writeAndFlush(ByteBuffer(bytes: ClientFrameEncoding.frame(opcode: 0x1, payload: Array(frame.utf8))), promise: nil)
    }

    private func write(opcode: UInt8, payload: [UInt8], context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: ClientFrameEncoding.frame(opcode: opcode, payload: payload))), promise: nil)
    }
}
