import NIOCore
import NIOWebSocket
import Testing

@testable import ChatRealtime

@Suite struct FrameAssemblerTests {
    /// A client frame: masked with a zero key (any key will do; unmasking is then the identity).
    func frame(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true, masked: Bool = true) -> WebSocketFrame {
        WebSocketFrame(
            fin: fin, opcode: opcode, maskKey: masked ? WebSocketMaskingKey([0, 0, 0, 0]) : nil,
            data: ByteBuffer(string: text))
    }

    @Test func fragmentsMakeOneMessage() {
        var assembler = FrameAssembler()
        #expect(assembler.assemble(frame(.text, "{\"ty", fin: false), maxBytes: 100) == .fragment)
        #expect(assembler.assemble(frame(.ping, "p"), maxBytes: 100) == .ping(ByteBuffer(string: "p")),
                "control frames may come between fragments")
        #expect(assembler.assemble(frame(.continuation, "pe\":", fin: false), maxBytes: 100) == .fragment)
        #expect(assembler.assemble(frame(.continuation, "1}"), maxBytes: 100) == .text(ByteBuffer(string: "{\"type\":1}")))
        #expect(assembler.assemble(frame(.text, "next"), maxBytes: 100) == .text(ByteBuffer(string: "next")))
    }

    @Test func brokenSequencesAreViolations() {
        var assembler = FrameAssembler()
        #expect(assembler.assemble(frame(.continuation, "x"), maxBytes: 100).violationCode == 1002)
        _ = assembler.assemble(frame(.text, "a", fin: false), maxBytes: 100)
        #expect(assembler.assemble(frame(.text, "b"), maxBytes: 100).violationCode == 1002)
        var big = FrameAssembler()
        _ = big.assemble(frame(.text, String(repeating: "a", count: 60), fin: false), maxBytes: 100)
        #expect(big.assemble(frame(.continuation, String(repeating: "a", count: 60)), maxBytes: 100).violationCode == 1009)
        #expect(big.assemble(frame(.text, "fresh"), maxBytes: 100) == .text(ByteBuffer(string: "fresh")))
    }

    @Test func reservedBitsAndUnmaskedFramesAreProtocolErrors() {
        var assembler = FrameAssembler()
        for bits in [(true, false, false), (false, true, false), (false, false, true)] {
            var reserved = frame(.text, "{}")
            (reserved.rsv1, reserved.rsv2, reserved.rsv3) = bits
            #expect(assembler.assemble(reserved, maxBytes: 100) == .violation(.reservedBits))
        }
        #expect(assembler.assemble(frame(.text, "{}", masked: false), maxBytes: 100) == .violation(.unmasked))
        #expect(assembler.assemble(frame(.ping, "", masked: false), maxBytes: 100) == .violation(.unmasked))
    }

    @Test func textMustBeUTF8WholeNotPerFragment() {
        var assembler = FrameAssembler()
        let euro = Array("€".utf8)  // three bytes, split across two fragments
        var first = frame(.text, "", fin: false)
        first.data = ByteBuffer(bytes: [0x22] + euro[0..<1])
        #expect(assembler.assemble(first, maxBytes: 100) == .fragment, "a fragment may end inside a character")
        var last = frame(.continuation, "")
        last.data = ByteBuffer(bytes: Array(euro[1...]) + [0x22])
        #expect(assembler.assemble(last, maxBytes: 100) == .text(ByteBuffer(string: "\"€\"")))
        for bad: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82]] {
            var invalid = frame(.text, "")
            invalid.data = ByteBuffer(bytes: bad)
            #expect(assembler.assemble(invalid, maxBytes: 100) == .violation(.invalidUTF8), "\(bad)")
        }
    }

    @Test func emptyContinuationsCountAsFragmentsAndAddNothing() {
        var assembler = FrameAssembler()
        _ = assembler.assemble(frame(.text, String(repeating: "a", count: 60_000), fin: false), maxBytes: 65_536)
        for _ in 0..<1000 {
            #expect(assembler.assemble(frame(.continuation, "", fin: false), maxBytes: 65_536) == .fragment)
        }
        let done = assembler.assemble(frame(.continuation, "b"), maxBytes: 65_536)
        #expect(done == .text(ByteBuffer(string: String(repeating: "a", count: 60_000) + "b")))
    }

    @Test func otherKinds() {
        var assembler = FrameAssembler()
        #expect(assembler.assemble(frame(.binary, "b"), maxBytes: 100) == .binary)
        #expect(assembler.assemble(frame(.pong, ""), maxBytes: 100) == .pong)
        #expect(assembler.assemble(frame(.connectionClose, ""), maxBytes: 100) == .close)
    }
}

extension Inbound {
    var violationCode: UInt16? {
        guard case .violation(let reason) = self else { return nil }
        return reason.code
    }
}
