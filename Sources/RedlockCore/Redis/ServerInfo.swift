/// The `field:value` lines of an INFO reply.
public struct ServerInfo: Sendable {
    public let fields: [String: String]

    public init(_ text: String) {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        self.fields = fields
    }

    public subscript(_ name: String) -> String? { fields[name] }
}
