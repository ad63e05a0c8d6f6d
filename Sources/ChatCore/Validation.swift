import Foundation

/// Input rules of the domain. Each function returns the normalized value or throws a `ChatError` that names the field.
public enum Validate {
    /// 3–32 characters of ASCII letters, digits, `_` and `.`; unique case-insensitively, so it is kept as typed
    /// and compared with `COLLATE NOCASE` in the store.
    public static func handle(_ raw: String, field: String = "handle") throws -> String {
        let count = raw.unicodeScalars.count
        guard (3...32).contains(count) else {
            throw ChatError.invalid("\(field) must be 3–32 characters, got \(count)")
        }
        for scalar in raw.unicodeScalars {
            let ok = scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_" || scalar == ".")
            guard ok else {
                throw ChatError.invalid("\(field) may contain only letters, digits, '_' and '.'")
            }
        }
        return raw
    }

    /// 8–72 bytes of UTF-8: bcrypt ignores whatever follows the 72nd byte, so longer passwords are refused
    /// rather than silently truncated.
    public static func password(_ raw: String) throws -> String {
        let bytes = raw.utf8.count
        guard bytes >= 8 else { throw ChatError.invalid("password must be at least 8 characters") }
        guard bytes <= 72 else { throw ChatError.invalid("password must be at most 72 bytes of UTF-8") }
        // bcrypt reads a C string: whatever follows a NUL would silently not count. Other control characters are
        // refused too: no keyboard types them, so they are a client's bug.
        guard !raw.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ChatError.invalid("password must not contain control characters (U+0000–U+001F, U+007F–U+009F)")
        }
        return raw
    }

    /// Whether `raw` could be a stored password, by any rule chatd ever set (8–72 bytes, no NUL): what is not is
    /// wrong at login without a comparison (bcrypt would stop at a NUL and ignore what follows the 72nd byte).
    public static func couldBeStoredPassword(_ raw: String) -> Bool {
        (8...72).contains(raw.utf8.count) && !raw.utf8.contains(0)
    }

    /// 1–64 code points, no control characters, surrounding whitespace trimmed.
    public static func displayName(_ raw: String, field: String = "display_name") throws -> String {
        try line(raw, field: field, maxCodePoints: 64)
    }

    /// A group title: 1–128 code points, no control characters.
    public static func title(_ raw: String) throws -> String {
        try line(raw, field: "title", maxCodePoints: 128)
    }

    /// Message text: not empty or only whitespace, at most `maxBytes` bytes of UTF-8.
    public static func messageText(_ raw: String, maxBytes: Int) throws -> String {
        let bytes = raw.utf8.count
        guard bytes <= maxBytes else {
            throw ChatError(.payloadTooLarge, "text is \(bytes) bytes of UTF-8; the limit is \(maxBytes)")
        }
        // A code point that is not white space (a combining mark after a space counts, though Swift calls the whole
        // character white space).
        guard raw.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw ChatError.invalid("text must not be empty")
        }
        // SQLite takes bound text up to its first NUL: what follows would be acknowledged but not stored.
        guard !raw.utf8.contains(0) else { throw ChatError.invalid("text must not contain U+0000") }
        return raw
    }

    /// The name a client gives an upload: 1–255 bytes of UTF-8 without NUL (the server cleans it further, and never
    /// makes a path of it).
    public static func uploadFilename(_ raw: String) throws -> String {
        guard !raw.isEmpty, raw.utf8.count <= 255 else { throw ChatError.invalid("filename must be 1 to 255 bytes") }
        guard !raw.utf8.contains(0) else { throw ChatError.invalid("filename must not contain U+0000") }
        return raw
    }

    /// A declared content type, `type/subtype` in MIME token characters (parameters are dropped). It only chooses
    /// the size limit: the bytes are sniffed.
    public static func declaredContentType(_ raw: String) throws -> String {
        let essence = raw.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        let type = essence.trimmingCharacters(in: .whitespaces).lowercased()
        let parts = type.split(separator: "/", omittingEmptySubsequences: false)
        let token = { (part: Substring) in
            !part.isEmpty && part.utf8.allSatisfy { byte in
                (0x21...0x7E).contains(byte) && !"()<>@,;:\\\"/[]?={}".utf8.contains(byte)
            }
        }
        guard type.utf8.count <= 127, parts.count == 2, parts.allSatisfy(token) else {
            throw ChatError.invalid("content_type must be a media type such as \"image/jpeg\"")
        }
        return type
    }

    /// A message's attachments: at most `max` media ids, each positive and named once.
    public static func attachments(_ ids: [Int64], max: Int) throws {
        guard ids.count <= max else {
            throw ChatError.invalid("a message carries at most \(max) attachments; this one has \(ids.count)")
        }
        guard ids.allSatisfy({ $0 > 0 }) else { throw ChatError.invalid("attachments must be media ids") }
        guard Set(ids).count == ids.count else { throw ChatError.invalid("an attachment is named twice") }
    }

    /// The client's idempotency key for a send: 1–64 printable ASCII characters.
    public static func clientID(_ raw: String) throws -> String {
        guard (1...64).contains(raw.utf8.count),
              raw.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7E })
        else {
            throw ChatError.invalid("client_id must be 1–64 printable ASCII characters without spaces")
        }
        return raw
    }

    /// A reaction is exactly one emoji: one grapheme cluster that is rendered as an emoji.
    public static func emoji(_ raw: String) throws -> String {
        guard raw.count == 1, let first = raw.unicodeScalars.first, raw.utf8.count <= 64,
              first.properties.isEmojiPresentation
                || raw.unicodeScalars.contains(where: { $0.value == 0xFE0F })
                || (first.properties.isEmoji && raw.unicodeScalars.count > 1)
        else {
            throw ChatError.invalid("emoji must be exactly one emoji")
        }
        return raw
    }

    /// A search query: at most 256 bytes, with at least one letter, digit or emoji (a word the index can hold).
    public static func searchQuery(_ raw: String) throws -> String {
        guard raw.utf8.count <= 256 else { throw ChatError.invalid("q must be at most 256 bytes") }
        let hasWord = raw.unicodeScalars.contains { scalar in
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                .decimalNumber, .letterNumber, .otherNumber, .otherSymbol:
                true
            default: false
            }
        }
        guard hasWord else { throw ChatError.invalid("q must contain at least one word (letters, digits or emoji)") }
        return raw
    }

    /// A positive row id or seq from a client.
    public static func positive(_ value: Int64, field: String) throws -> Int64 {
        guard value > 0 else { throw ChatError.invalid("\(field) must be a positive integer") }
        return value
    }

    /// A page size: 1…`max`, `default` when absent.
    public static func limit(_ value: Int?, default defaultValue: Int, max: Int) throws -> Int {
        guard let value else { return defaultValue }
        guard (1...max).contains(value) else { throw ChatError.invalid("limit must be between 1 and \(max)") }
        return value
    }

    /// An e-mail address or an E.164 phone number, normalized (lowercased e-mail, digits-only phone with `+`).
    public static func otpDestination(_ raw: String, channel: OTPChannel) throws -> String {
        switch channel {
        case .email:
            let value = raw.trimmingCharacters(in: .whitespaces).lowercased()
            let parts = value.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), raw.unicodeScalars.count <= 254,
                  !value.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 })
            else { throw ChatError.invalid("destination is not a valid e-mail address") }
            return value
        case .sms:
            let digits = raw.filter { !" -().".contains($0) }
            guard digits.hasPrefix("+"), (8...16).contains(digits.count),
                  digits.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber })
            else { throw ChatError.invalid("destination must be a phone number in E.164 form, like +14155550123") }
            return digits
        }
    }

    /// A one-line text. Its length counts code points, as JSON Schema's `maxLength` does, so the limit bounds its
    /// bytes too (at most four per code point): one grapheme may hold thousands of code points.
    /// The limit applies to the text as sent, before its surrounding spaces are trimmed.
    private static func line(_ raw: String, field: String, maxCodePoints: Int) throws -> String {
        guard raw.unicodeScalars.count <= maxCodePoints else {
            throw ChatError.invalid("\(field) must be at most \(maxCodePoints) characters (Unicode code points)")
        }
        let value = raw.trimmingCharacters(in: .whitespaces)
        guard value.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw ChatError.invalid("\(field) must not be empty")
        }
        // Checked on the text as sent: a tab is a control character even where trimming would remove it.
        guard !raw.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ChatError.invalid("\(field) must not contain control characters")
        }
        return value
    }
}

public enum OTPChannel: String, Codable, Sendable {
    case sms, email
}
