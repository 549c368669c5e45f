/// Medians, and the ratio of two of them.
///
/// Medians rather than means: on a shared, noisy machine a few runs land behind another
/// tenant's burst, and one 80 ms outlier must not move a 5 ms figure. The same holds for
/// ratios, so the bench reports both the ratio of the two medians and, where runs are
/// paired, the median of the per-pair ratios (each pair saw about the same noise).
enum Statistics {
    static func median(_ values: [Double]) -> Double {
        precondition(!values.isEmpty, "median of nothing")
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    static func median(_ durations: [Duration]) -> Duration {
        .nanoseconds(Int64(median(durations.map { Double($0.nanoseconds) }).rounded()))
    }

    /// `numerator / denominator` as a plain number.
    static func ratio(_ numerator: Duration, _ denominator: Duration) -> Double {
        Double(numerator.nanoseconds) / Double(max(1, denominator.nanoseconds))
    }
}
