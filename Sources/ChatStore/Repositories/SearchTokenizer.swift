import Foundation
import GRDB

/// The one rule for what a word is, for the index and for queries alike: `messages_fts` is tokenized by it (it is
/// the FTS5 tokenizer "chatd", registered on every connection) and a query's terms are its tokens, so a message is
/// found by each word it contains, in every script, and no query is ever read as FTS5 syntax.
///
/// - SQLite's `unicode61` finds the words (with `SearchTokenizer.words`): letters, digits, combining marks (the vowel signs of
///   Devanagari, Tamil or Thai are part of their words), emoji, and the joiners inside words (ZWNJ, ZWJ, soft
///   hyphens); spaces, punctuation and other symbols separate them. It folds case and Latin diacritics.
/// - What writers put in or leave out at will is removed from each word, so it is found either way: Hebrew points,
///   Arabic harakat and tatweel, Greek accents, the joiners, emoji variation selectors and skin tones.
/// - Scripts written without spaces between words (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) are indexed as
///   their single characters and overlapping pairs of characters, as search engines index them: "東京タワー" is
///   found by "東京", "タワー", "京タ" or "京". A query's run of two or more such characters is its pairs, which
///   must all occur in the message, though not necessarily side by side.
///
/// The index keeps the terms this rule made. They depend on the rule and on the Unicode tables of the Swift and
/// SQLite it runs on, so the store compares a fingerprint of the terms of a probe text at every start and rebuilds
/// the index when it changed (`keepIndexCurrent`): an upgrade never leaves FTS5 deleting terms it never indexed.
final class SearchTokenizer: FTS5CustomTokenizer {
    static let name = "chatd"

    /// The `unicode61` settings that find the words.
    static let words = [
        "unicode61", "remove_diacritics", "2", "categories", "L* N* Co M* So",
        "tokenchars", "\u{00AD}\u{200C}\u{200D}\u{2060}\u{FEFF}",
    ]

    private let wordFinder: any FTS5Tokenizer

    init(db: Database, arguments: [String]) throws {
        wordFinder = try db.makeTokenizer(FTS5TokenizerDescriptor(components: Self.words))
    }

    func tokenize(
        context: UnsafeMutableRawPointer?, tokenization: FTS5Tokenization, pText: UnsafePointer<CChar>?,
        nText: CInt, tokenCallback: @escaping FTS5TokenCallback
    ) -> CInt {
        var forwarding = TermForwarding(
            context: context, callback: tokenCallback, isQuery: tokenization.contains(.query))
        return withUnsafeMutablePointer(to: &forwarding) { pointer in
            wordFinder.tokenize(
                context: UnsafeMutableRawPointer(pointer), tokenization: tokenization, pText: pText, nText: nText,
                tokenCallback: forwardTerms)
        }
    }
}

extension SearchTokenizer {
    /// A text that puts every part of the rule to work.
    static let probe =
        "Crème Ελληνικά שָׁלוֹם مَرْحَبًـا नमस्ते می\u{200C}خواهم 👍🏽 ❤️ 👨\u{200D}👩\u{200D}👧 東京タワー สวัสดีครับ ２０２６ Ⅻ"

    /// A number that changes when the terms the tokenizer makes of `probe` change.
    static func fingerprint(_ db: Database) throws -> Int64 {
        let terms = try db.makeTokenizer(tokenizerDescriptor()).tokenize(document: probe).map(\.token)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in terms.joined(separator: "\u{1}").utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return Int64(bitPattern: hash)
    }

    /// Rebuilds `messages_fts` when the tokenizer's fingerprint differs from the one the index was built with
    /// (kept in `meta`); a database without one was just built or migrated by this build, and only records it.
    /// Returns whether it rebuilt.
    @discardableResult
    static func keepIndexCurrent(_ db: Database) throws -> Bool {
        let current = try fingerprint(db)
        let stored = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'search_terms'")
        guard stored != current else { return false }
        if stored != nil {
            try db.execute(sql: "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
        }
        try db.execute(
            sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('search_terms', ?)", arguments: [current])
        return stored != nil
    }
}

/// Where the terms of each word go: the caller's callback, with the word's place in the text.
private struct TermForwarding {
    var context: UnsafeMutableRawPointer?
    var callback: FTS5TokenCallback
    var isQuery: Bool
}

/// `unicode61`'s callback for each word: hands its terms to the caller's callback.
private func forwardTerms(
    pointer: UnsafeMutableRawPointer?, flags: CInt, token: UnsafePointer<CChar>?, length: CInt, start: CInt, end: CInt
) -> CInt {
    let ok: CInt = 0  // SQLITE_OK (SQLite's C module is GRDB's own)
    guard let pointer, let token else { return ok }
    let forwarding = pointer.assumingMemoryBound(to: TermForwarding.self).pointee
    let bytes = UnsafeRawBufferPointer(start: token, count: Int(length))
    // Most words are ASCII, which the rule leaves as they are: passed on without a copy.
    if bytes.allSatisfy({ $0 < 0x80 }) {
        return forwarding.callback(forwarding.context, flags, token, length, start, end)
    }
    for var term in SearchText.terms(of: String(decoding: bytes, as: UTF8.self), forQuery: forwarding.isQuery) {
        let code = term.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) {
                forwarding.callback(forwarding.context, flags, $0.baseAddress, CInt($0.count), start, end)
            }
        }
        guard code == ok else { return code }
    }
    return ok
}

/// The rule's parts that work on one word.
enum SearchText {
    /// The index terms of one word found by `unicode61` (already folded): the word without its optional marks, or,
    /// for a script written without spaces, its pairs of characters and, in a document, each character alone too
    /// (so that a one-character query finds it; a query's run keeps only its pairs, the most telling terms).
    static func terms(of word: String, forQuery: Bool) -> [String] {
        var terms: [String] = []
        var plain = ""
        var run: [String] = []
        func flushPlain() {
            if !plain.isEmpty { terms.append(plain) }
            plain = ""
        }
        func flushRun() {
            guard !run.isEmpty else { return }
            if run.count == 1 {
                terms.append(run[0])
            } else {
                for index in 0..<(run.count - 1) { terms.append(run[index] + run[index + 1]) }
                if !forQuery { terms += run }
            }
            run.removeAll()
        }
        for character in word {
            let kept = withoutOptionalMarks(character)
            guard !kept.isEmpty else { continue }
            if let first = character.unicodeScalars.first, isWrittenWithoutSpaces(first) {
                flushPlain()
                run.append(kept)
            } else {
                flushRun()
                plain += kept
            }
        }
        flushPlain()
        flushRun()
        return terms
    }

    /// The character without the marks that are optional in writing.
    private static func withoutOptionalMarks(_ character: Character) -> String {
        let scalars = character.unicodeScalars
        guard scalars.contains(where: { !$0.isASCII }) else { return String(character) }
        var kept = String.UnicodeScalarView()
        for scalar in scalars {
            if isOptionalMark(scalar) { continue }
            if (0x0370...0x03FF).contains(scalar.value) || (0x1F00...0x1FFF).contains(scalar.value) {
                // Greek: the base letter of its canonical decomposition, without tonos or breathing marks.
                let decomposed = String(scalar).decomposedStringWithCanonicalMapping.unicodeScalars
                kept.append(decomposed.first ?? scalar)
                continue
            }
            kept.append(scalar)
        }
        return String(kept)
    }

    private static func isOptionalMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0591...0x05C7, 0x0610...0x061A, 0x064B...0x065F, 0x0670, 0x06D6...0x06ED, 0x08D3...0x08FF:
            // Hebrew points and cantillation, Arabic harakat and Quranic marks: only the combining ones.
            return scalar.properties.generalCategory == .nonspacingMark
        case 0x0640:  // Arabic tatweel: stretches a word, changes nothing
            return true
        case 0xFE00...0xFE0F, 0xE0100...0xE01EF:  // variation selectors
            return true
        case 0x00AD, 0x200C, 0x200D, 0x2060, 0xFEFF:
            // Soft hyphen, ZWNJ, ZWJ, word joiners: they shape a word (Persian, Indic scripts, emoji sequences),
            // never end it, and are typed or left out at will.
            return true
        case 0x1F3FB...0x1F3FF:  // emoji skin tones
            return true
        default:
            return false
        }
    }

    private static func isWrittenWithoutSpaces(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0E00...0x0EFF,  // Thai, Lao
            0x1000...0x109F,  // Myanmar
            0x1780...0x17FF,  // Khmer
            0x2E80...0x2FDF,  // CJK radicals
            0x3005...0x3007, 0x3021...0x3029, 0x3031...0x3035, 0x3038...0x303C,
            0x3040...0x30FF,  // Hiragana, Katakana
            0x31F0...0x31FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF,
            0xFF66...0xFF9F,  // half-width Katakana
            0x20000...0x3FFFF:
            return scalar.properties.generalCategory != .otherPunctuation
        default:
            return false
        }
    }
}
