import Testing

@testable import ChatCore

@Suite struct ValidationTests {
    @Test(arguments: ["abc", "A.b_9", String(repeating: "x", count: 32)])
    func validHandles(_ handle: String) throws {
        #expect(try Validate.handle(handle) == handle)
    }

    @Test(arguments: ["ab", String(repeating: "x", count: 33), "with space", "ünï", "semi;colon", "emoji😀"])
    func invalidHandles(_ handle: String) {
        #expect(throws: ChatError.self) { try Validate.handle(handle) }
    }

    @Test func messageTextCountsBytesNotCharacters() throws {
        #expect(try Validate.messageText(String(repeating: "é", count: 2048), maxBytes: 4096).count == 2048)
        #expect(throws: ChatError(.payloadTooLarge, "text is 4098 bytes of UTF-8; the limit is 4096")) {
            try Validate.messageText(String(repeating: "é", count: 2049), maxBytes: 4096)
        }
        #expect(throws: ChatError.self) { try Validate.messageText(" \n\t", maxBytes: 10) }
    }

    @Test func lineLengthsCountCodePointsSoTheyBoundBytes() throws {
        let zalgo = "a" + String(repeating: "\u{0301}", count: 10_000)  // one grapheme, 20 KB
        #expect(zalgo.count == 1)
        #expect(throws: ChatError.self) { try Validate.displayName(zalgo) }
        #expect(throws: ChatError.self) { try Validate.title(zalgo) }
        let longest = String(repeating: "😀", count: 64)
        #expect(try Validate.displayName(longest) == longest, "64 code points of four bytes each")
        #expect(throws: ChatError.self) { try Validate.displayName(longest + "a") }
        #expect(try Validate.title(String(repeating: "é", count: 128)).unicodeScalars.count == 128)
    }

    @Test(arguments: ["correct horse\u{0}battery", "tab\there ok", "bell\u{7}ringing", "c1\u{85}control"])
    func passwordsWithControlCharactersAreRefused(_ password: String) {
        #expect(throws: ChatError.self) { try Validate.password(password) }
    }

    @Test(arguments: ["👍", "❤️", "👍🏽", "👨‍👩‍👧", "🇫🇷", "😀"])
    func oneEmoji(_ emoji: String) throws {
        #expect(try Validate.emoji(emoji) == emoji)
    }

    @Test(arguments: ["", "a", "1", "👍👍", "ok", "#"])
    func notOneEmoji(_ text: String) {
        #expect(throws: ChatError.self) { try Validate.emoji(text) }
    }

    @Test func destinationsAreNormalized() throws {
        #expect(try Validate.otpDestination(" Ann@Example.COM ", channel: .email) == "ann@example.com")
        #expect(try Validate.otpDestination("+1 (415) 555-0123", channel: .sms) == "+14155550123")
        #expect(throws: ChatError.self) { try Validate.otpDestination("4155550123", channel: .sms) }
        #expect(throws: ChatError.self) { try Validate.otpDestination("not-an-address", channel: .email) }
    }

    @Test func everyErrorCodeKnowsItsStatus() {
        for code in ChatError.Code.all {
            #expect((400...599).contains(code.status))
            #expect(ChatError.Code(rawValue: code.rawValue) == code)
        }
    }
}
