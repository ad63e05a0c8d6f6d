import Foundation

/// One scrape of chatd's `/metrics`: each sample by its series (name and labels as written), and what a histogram
/// recorded between two scrapes.
struct ServerMetrics {
    private(set) var samples: [String: Double] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            samples[String(line[..<space])] = value
        }
    }

    /// A histogram's recordings since `earlier`: how many, their sum, and how many in each bucket (by upper bound,
    /// in the histogram's unit; cumulative, as exported).
    func histogram(_ name: String, since earlier: ServerMetrics) -> Histogram {
        func delta(_ series: String) -> Double { (samples[series] ?? 0) - (earlier.samples[series] ?? 0) }
        var buckets: [(bound: Double, count: Double)] = []
        for series in samples.keys where series.hasPrefix(name + "_bucket{") {
            guard let start = series.range(of: "le=\""), let end = series[start.upperBound...].firstIndex(of: "\"") else {
                continue
            }
            let bound = series[start.upperBound..<end] == "+Inf" ? .infinity : Double(series[start.upperBound..<end]) ?? 0
            buckets.append((bound, delta(series)))
        }
        return Histogram(count: delta(name + "_count"), sum: delta(name + "_sum"), buckets: buckets.sorted { $0.bound < $1.bound })
    }

    /// A counter's or a gauge's value (0 when absent).
    func value(_ series: String) -> Double { samples[series] ?? 0 }

    struct Histogram {
        var count: Double
        var sum: Double
        var buckets: [(bound: Double, count: Double)]

        /// Recordings above `bound`.
        func count(above bound: Double) -> Double {
            count - (buckets.last { $0.bound <= bound }?.count ?? 0)
        }

        /// The upper bound of the bucket that holds the largest recording (0 when none).
        var largestBound: Double {
            buckets.first { $0.count >= count && count > 0 }?.bound ?? 0
        }
    }
}
