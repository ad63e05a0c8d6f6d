import Foundation

/// The one JSON dialect of chatd: snake_case keys, times as integer milliseconds.
public enum ChatJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// Whether JSON text holds a number written with a fraction or an exponent. No field of the API takes one, and
    /// the decoder would read `1.0` as the integer 1: requests and frames that hold one are refused. Outside strings,
    /// `.` belongs only to numbers, and so does an `e` after a digit (the others are in `true` and `false`).
    public static func hasFractionalNumber(_ json: some Sequence<UInt8>) -> Bool {
        json.withContiguousStorageIfAvailable(scanForFraction) ?? scanForFraction(Array(json))
    }

    private static func scanForFraction(_ json: some Collection<UInt8>) -> Bool {
        var inString = false
        var escaped = false
        var previous: UInt8 = 0
        for byte in json {
            defer { previous = byte }
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "."): return true
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(previous) { return true }
            default: break
            }
        }
        return false
    }

    /// The error message for `hasFractionalNumber`.
    public static let integersOnly = "numbers must be integers, without a fraction or an exponent"

    /// Encodes a payload to a JSON string, for event data.
    public static func string<T: Encodable>(_ value: T) -> String {
        // Encoding our own plain structs of strings and integers cannot fail.
        let data = (try? encoder().encode(value)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// What is wrong with a JSON document, in the client's words (snake_case field names): "field 'x' must be an
/// integer", "field 'y' is required". `whole` names the document ("the body", "the frame").
public func describe(_ error: DecodingError, whole: String) -> String {
    func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map { key in
            key.intValue.map { "[\($0)]" } ?? snakeCase(key.stringValue)
        }
        return keys.isEmpty ? whole : "field '\(keys.joined(separator: "."))'"
    }
    switch error {
    case .keyNotFound(let key, let context):
        let parent = context.codingPath.isEmpty ? "" : " in \(path(context))"
        return "field '\(snakeCase(key.stringValue))' is required\(parent)"
    case .typeMismatch(let type, let context):
        return "\(path(context)) must be \(typeName(type))"
    case .valueNotFound(let type, let context):
        return "\(path(context)) must be \(typeName(type)), not null"
    case .dataCorrupted(let context):
        return context.codingPath.isEmpty ? "\(whole) is not valid JSON (UTF-8)" : "\(path(context)) is invalid"
    @unknown default:
        return "\(whole) is not valid"
    }
}

private func typeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
    case is Bool.Type: "a boolean"
    case is Double.Type: "a number"
    default: String(describing: type).hasPrefix("Array") ? "an array" : "an object"
    }
}

private func snakeCase(_ key: String) -> String {
    var out = ""
    for character in key {
        if character.isUppercase {
            out += "_" + character.lowercased()
        } else {
            out.append(character)
        }
    }
    return out
}
