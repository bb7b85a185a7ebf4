import Foundation

/// One line of the results: a measured figure, its baseline from the same run, and the target.
struct BenchRow: Codable, Sendable {
    var workload: String
    var configuration: String
    var metric: String
    var ours: Double
    var baseline: Double?
    var baselineName: String?
    /// ours ÷ baseline.
    var ratio: Double? { baseline.map { $0 == 0 ? .infinity : ours / $0 } }
    /// The target, as text (e.g. "≤ 1.2×"), and whether it was met.
    var target: String?
    var met: Bool?
    var note: String?

    enum CodingKeys: String, CodingKey {
        case workload, configuration, metric, ours, baseline, baselineName, target, met, note, ratio
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(workload, forKey: .workload)
        try container.encode(configuration, forKey: .configuration)
        try container.encode(metric, forKey: .metric)
        try container.encode(ours, forKey: .ours)
        try container.encodeIfPresent(baseline, forKey: .baseline)
        try container.encodeIfPresent(baselineName, forKey: .baselineName)
        try container.encodeIfPresent(ratio, forKey: .ratio)
        try container.encodeIfPresent(target, forKey: .target)
        try container.encodeIfPresent(met, forKey: .met)
        try container.encodeIfPresent(note, forKey: .note)
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        workload = try container.decode(String.self, forKey: .workload)
        configuration = try container.decode(String.self, forKey: .configuration)
        metric = try container.decode(String.self, forKey: .metric)
        ours = try container.decode(Double.self, forKey: .ours)
        baseline = try container.decodeIfPresent(Double.self, forKey: .baseline)
        baselineName = try container.decodeIfPresent(String.self, forKey: .baselineName)
        target = try container.decodeIfPresent(String.self, forKey: .target)
        met = try container.decodeIfPresent(Bool.self, forKey: .met)
        note = try container.decodeIfPresent(String.self, forKey: .note)
    }

    init(
        workload: String, configuration: String, metric: String, ours: Double, baseline: Double? = nil,
        baselineName: String? = nil, target: String? = nil, met: Bool? = nil, note: String? = nil
    ) {
        self.workload = workload
        self.configuration = configuration
        self.metric = metric
        self.ours = ours
        self.baseline = baseline
        self.baselineName = baselineName
        self.target = target
        self.met = met
        self.note = note
    }

    /// A Markdown table row.
    var markdown: String {
        let ratioText = ratio.map { String(format: "%.2f×", $0) } ?? ""
        let baselineText = baseline.map { "\(Self.format($0)) (\(baselineName ?? ""))" } ?? ""
        let verdict = met.map { $0 ? "met" : "MISSED" } ?? ""
        return "| \(workload) | \(configuration) | \(metric) | \(Self.format(ours)) | \(baselineText) | \(ratioText) | \(target ?? "") \(verdict) | \(note ?? "") |"
    }

    static let header = """
        | workload | configuration | metric | ours | baseline | ratio | target | note |
        |---|---|---|---|---|---|---|---|
        """

    static func format(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }
}
