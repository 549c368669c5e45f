import Foundation
import Testing

/// The README's crontab lines work under cron's own environment: `PATH=/usr/bin:/bin` and
/// the crontab's assignments, nothing else, the command run by `/bin/sh -c`, after the
/// README's install to /usr/local. The install is real for the test's eyes only: the
/// binary is bind-mounted as /usr/local/bin/redlock in a private mount namespace.
@Suite struct ReadmeCronTests {
    /// The ```cron block of the README's "Cron on several hosts": its assignments and the
    /// command of its job line (after the five time fields).
    static func cronBlock() throws -> (assignments: [(String, String)], command: String) {
        let readme = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "### Cron on several hosts").dropFirst().first)
        let block = try #require(section.components(separatedBy: "```cron\n").dropFirst().first?.components(separatedBy: "```").first)
        var assignments: [(String, String)] = []
        var command: String?
        for line in block.split(separator: "\n").map(String.init) {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            if let equals = line.firstIndex(of: "="), !line.prefix(upTo: equals).contains(" ") {
                var value = String(line[line.index(after: equals)...])
                if value.count >= 2, value.first == value.last, value.first == "\"" || value.first == "'" { value = String(value.dropFirst().dropLast()) }
                assignments.append((String(line[..<equals]), value))
            } else if fields.count == 6 {
                command = String(fields[5])
            }
        }
        return (assignments, try #require(command))
    }

    @Test(.enabled(if: HostLookupTests.canMountPrivately))
    func theREADMEsCronLineFindsRedlockUnderCronsPATH() throws {
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        let (assignments, command) = try Self.cronBlock()
        #expect(command.hasPrefix("redlock ") || command.hasPrefix("/usr/local/bin/redlock "), "\(command)")
        // The job itself stands for any script: here one that says it ran.
        let job = command.components(separatedBy: " -- ")[0] + " -- echo ran"
        // cron's environment: its PATH, then the crontab's lines (REDLOCK_URLS pointed at the
        // test's server).
        var environment = ["PATH=/usr/bin:/bin", "HOME=\(scratch.path)", "SHELL=/bin/sh"]
        for (name, value) in assignments {
            environment.append(name == "REDLOCK_URLS" ? "REDLOCK_URLS=\(redis.urlList)" : "\(name)=\(value)")
        }
        let installed = scratch.file("bin")
        try FileManager.default.createDirectory(atPath: installed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try RedlockBinary.executableURL().path, toPath: installed + "/redlock")
        let script = "mount --bind \"$1\" /usr/local/bin && shift && exec env -i \"$@\""
        let result = try RedlockProcess(
            executable: executableInPath("unshare")!,
            ["-m", "sh", "-c", script, "sh", installed] + environment + ["/bin/sh", "-c", job]
        ).wait(timeout: 60)
        #expect(result.status == 0, "\(job): \(result)")
        #expect(result.stdout == "ran\n", "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
    }
}
