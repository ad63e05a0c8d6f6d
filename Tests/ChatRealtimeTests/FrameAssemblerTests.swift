import NIOCore
import NIOWebSocket
import Testing

@testable import ChatRealtime

@Suite struct FrameAssemblerTests {
    func frame(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true) -> WebSocketFrame {
        WebSocketFrame(fin: fin, opcode: opcode, data: ByteBuffer(string: text))
    }

    @Test func fragmentsMakeOneMessage() {
        var assembler = FrameAssembler()
        #expect(assembler.assemble(frame(.text, "{\"ty", fin: false), maxBytes: 100) == nil)
        #expect(assembler.assemble(frame(.ping, "p"), maxBytes: 100) == .ping(ByteBuffer(string: "p")),
                "control frames may come between fragments")
        #expect(assembler.assemble(frame(.continuation, "pe\":", fin: false), maxBytes: 100) == nil)
        #expect(assembler.assemble(frame(.continuation, "1}"), maxBytes: 100) == .text(ByteBuffer(string: "{\"type\":1}")))
        #expect(assembler.assemble(frame(.text, "next"), maxBytes: 100) == .text(ByteBuffer(string: "next")))
    }

    @Test func brokenSequencesAreViolations() {
        var assembler = FrameAssembler()
        #expect(assembler.assemble(frame(.continuation, "x"), maxBytes: 100)?.violationCode == 1002)
        _ = assembler.assemble(frame(.text, "a", fin: false), maxBytes: 100)
        #expect(assembler.assemble(frame(.text, "b"), maxBytes: 100)?.violationCode == 1002)
        var big = FrameAssembler()
        _ = big.assemble(frame(.text, String(repeating: "a", count: 60), fin: false), maxBytes: 100)
        #expect(big.assemble(frame(.continuation, String(repeating: "a", count: 60)), maxBytes: 100)?.violationCode == 1009)
        #expect(big.assemble(frame(.text, "fresh"), maxBytes: 100) == .text(ByteBuffer(string: "fresh")))
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
