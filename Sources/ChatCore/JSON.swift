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
