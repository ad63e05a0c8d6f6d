import NIOCore
import NIOWebSocket

/// What a client sent, once its frames are put back together: the session's input.
enum Inbound: Equatable {
    case text(ByteBuffer)
    /// A piece of a fragmented message that is not its last: it counts as a frame, and nothing else happens.
    case fragment
    case binary
    case ping(ByteBuffer)
    case pong
    case close
    /// A frame that breaks RFC 6455 or the frame limit: the session closes with this reason.
    case violation(CloseReason)

    /// A whole text message: what the user's budget over all their connections counts.
    var isMessage: Bool {
        if case .text = self { return true }
        return false
    }
}

/// Checks each client frame against RFC 6455 and reassembles fragmented text messages (§5.4). Holds nothing between
/// messages, so an idle connection pays only for an empty optional. NIO's decoder has already refused frames over
/// the size limit and oversized or fragmented control frames; the rules it leaves to the endpoint are here.
struct FrameAssembler {
    /// A fragmented text message being reassembled.
    private var partial: ByteBuffer?

    mutating func assemble(_ frame: WebSocketFrame, maxBytes: Int) -> Inbound {
        // No extension is ever negotiated, so every reserved bit must be clear (§5.2).
        guard !frame.rsv1, !frame.rsv2, !frame.rsv3 else { return .violation(.reservedBits) }
        // A server must close on an unmasked client frame (§5.1).
        guard frame.maskKey != nil else { return .violation(.unmasked) }
        switch frame.opcode {
        case .text where frame.fin && partial == nil:
            return complete(frame.unmaskedData)
        case .text:
            guard partial == nil else { return .violation(.interleaved) }
            partial = frame.unmaskedData
            return .fragment
        case .continuation:
            // Taken out of `partial` before it grows, so the append is in place: assembly is linear in the
            // message's size whatever the number of fragments.
            guard var buffer = partial.take() else { return .violation(.unexpectedContinuation) }
            var piece = frame.unmaskedData
            guard buffer.readableBytes + piece.readableBytes <= maxBytes else { return .violation(.tooLarge) }
            buffer.writeBuffer(&piece)
            guard frame.fin else {
                partial = buffer
                return .fragment
            }
            return complete(buffer)
        case .binary:
            return .binary
        case .ping:
            return .ping(frame.unmaskedData)
        case .pong:
            return .pong
        case .connectionClose:
            return .close
        default:
            return .violation(.unknownOpcode)
        }
    }

    /// A whole text message, which must be UTF-8 (§8.1).
    private func complete(_ message: ByteBuffer) -> Inbound {
        message.readableBytesView.isValidUTF8 ? .text(message) : .violation(.invalidUTF8)
    }
}

extension ByteBufferView {
    /// Whether the bytes are well-formed UTF-8 (no overlong forms, surrogates or truncated sequences). ASCII, most of
    /// every frame, is checked eight bytes at a time; the standard library judges the rest.
    var isValidUTF8: Bool {
        withContiguousStorageIfAvailable { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            var index = 0
            while index + 8 <= raw.count, raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                index += 8
            }
            while index < raw.count, raw[index] < 0x80 { index += 1 }
            guard index < raw.count else { return true }
            return String(validating: UnsafeRawBufferPointer(rebasing: raw[index...]), as: UTF8.self) != nil
        } ?? (String(validating: self, as: UTF8.self) != nil)
    }
}
