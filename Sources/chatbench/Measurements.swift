import Foundation

/// Latency samples in nanoseconds and their percentiles.
struct Latencies {
    private(set) var samples: [UInt64] = []

    mutating func add(_ nanoseconds: UInt64) { samples.append(nanoseconds) }
    mutating func add(contentsOf other: Latencies) { samples += other.samples }

    var count: Int { samples.count }

    /// The `p`-th percentile (0...100) in milliseconds.
    func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        let index = min(sorted.count - 1, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)
        return Double(sorted[max(0, index)]) / 1_000_000
    }
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func rounded(_ value: Double, _ places: Int = 3) -> Double {
    let scale = pow(10, Double(places))
    return (value * scale).rounded() / scale
}

/// The last line of every scenario: one JSON object, keys in a stable order.
func printResult(_ fields: KeyValuePairs<String, Any>) {
    printResult(fields.map { ($0.key, $0.value) })
}

/// The same, for a scenario that gathers its fields part by part.
func printResult(_ fields: [(String, Any)]) {
    let body = fields.map { key, value -> String in
        let rendered: String
        switch value {
        case let string as String: rendered = "\"\(string)\""
        case let double as Double: rendered = double.isFinite ? "\(double)" : "null"
        default: rendered = "\(value)"
        }
        return "\"\(key)\":\(rendered)"
    }
    print("{" + body.joined(separator: ",") + "}")
}

/// A 100-byte message text, varied so the search index sees realistic words.
func sampleText(_ index: Int) -> String {
    let words = ["lunch", "tomorrow", "meeting", "release", "coffee", "weekend", "deploy", "photos", "train", "call"]
    var text = "msg \(index)"
    var word = index
    while text.utf8.count < 100 {
        text += " " + words[word % words.count]
        word = word / 3 + 7
    }
    return String(text.utf8.prefix(100))!
}

/// A client id of the length apps typically use (a UUID's 36 characters): `index` in decimal, zero-padded. Made with
/// one allocation, so the ceiling and floor measure SQLite and the disk rather than string building.
func clientID(_ index: Int) -> String {
    String(unsafeUninitializedCapacity: 36) { buffer in
        var rest = index.magnitude
        for position in stride(from: 35, through: 0, by: -1) {
            buffer[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        return 36
    }
}
