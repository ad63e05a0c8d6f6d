import NIOCore
import NIOWebSocket

/// What a client sent, once its frames are put back together: the session's input.
enum Inbound: Equatable {
    case text(ByteBuffer)
    case binary
    case ping(ByteBuffer)
    case pong
    case close
    /// A frame that breaks RFC 6455 or the frame limit: the session closes with this reason.
    case violation(CloseReason)
}

/// Reassembles a client's fragmented text messages (RFC 6455 §5.4) and sorts frames by kind. Holds nothing between
/// messages, so an idle connection pays only for an empty optional.
struct FrameAssembler {
    /// A fragmented text message being reassembled.
    private var partial: ByteBuffer?

    /// The complete input a frame finishes, or nil while a fragmented message is still incomplete.
    mutating func assemble(_ frame: WebSocketFrame, maxBytes: Int) -> Inbound? {
        switch frame.opcode {
        case .text where frame.fin && partial == nil:
            return .text(frame.unmaskedData)
        case .text:
            guard partial == nil else { return .violation(CloseReason(code: 1002, reason: "unfinished fragmented message")) }
            partial = frame.unmaskedData
            return nil
        case .continuation:
            guard var buffer = partial else { return .violation(CloseReason(code: 1002, reason: "unexpected continuation")) }
            var piece = frame.unmaskedData
            guard buffer.readableBytes + piece.readableBytes <= maxBytes else {
                partial = nil
                return .violation(.tooLarge)
            }
            buffer.writeBuffer(&piece)
            if frame.fin {
                partial = nil
                return .text(buffer)
            }
            partial = buffer
            return nil
        case .binary:
            return .binary
        case .ping:
            return .ping(frame.unmaskedData)
        case .pong:
            return .pong
        case .connectionClose:
            return .close
        default:
            return .violation(CloseReason(code: 1002, reason: "unknown opcode"))
        }
    }
}
