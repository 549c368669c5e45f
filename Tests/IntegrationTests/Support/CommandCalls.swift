import Foundation

extension RedisServer {
    /// `calls=` of each command in INFO commandstats: what the waiting tests count to show
    /// that a waiter sleeps instead of polling.
    func callsByCommand() throws -> [String: Int] {
        let info = try client().command("INFO", "commandstats").string ?? ""
        var calls: [String: Int] = [:]
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_") {
            let name = line.dropFirst("cmdstat_".count).prefix { $0 != ":" }
            guard let range = line.range(of: "calls=") else { continue }
            calls[String(name)] = Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        return calls
    }
}
