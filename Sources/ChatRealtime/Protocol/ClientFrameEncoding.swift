/// How a client puts a frame on the wire (RFC 6455 §5.2): FIN, the opcode, the mask bit, the length, and a zero
/// masking key (clients must mask; any key will do, and zero leaves the payload as it is). For load generators and
/// tests that speak raw WebSocket without a client library.
public enum ClientFrameEncoding {
    public static func frame(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [0x80 | opcode]
        frame.reserveCapacity(payload.count + 14)
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65_536 {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        frame += [0, 0, 0, 0]
        frame += payload
        return frame
    }
}
