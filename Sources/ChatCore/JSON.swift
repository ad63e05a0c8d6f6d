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
