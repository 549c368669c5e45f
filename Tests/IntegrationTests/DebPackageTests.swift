// `make deb` as a user of the package meets it: built from this tree, installed with apt,
// then the command, its man page and a completion used from where Debian puts them. It
// installs into the running system, so it runs only as root on a machine where no redlock
// package is installed (CI), and removes the package again.

import Foundation
import Testing

@Suite struct DebPackageTests {
    static let root = InstallTests.root

    static var canInstallPackages: Bool {
        getuid() == 0 && executableInPath("dpkg-deb") != nil && executableInPath("apt-get") != nil
            && executableInPath("make") != nil && !packageIsInstalled()
    }

    static func packageIsInstalled() -> Bool {
        guard let dpkg = executableInPath("dpkg-query"),
              let result = try? RedlockProcess(executable: dpkg, ["-W", "-f=${Status}", "redlock"]).wait(timeout: 60) else { return false }
        return result.stdout.contains("ok installed")
    }

    @Test(.enabled(if: canInstallPackages, "needs root, dpkg-deb and apt, and no redlock package installed already"),
          .timeLimit(.minutes(20)))
    func buildInstallAndUseThePackage() throws {
        let scratch = try TestScratch()
        let wrapper = try InstallTests.swiftWrapper(in: scratch)
        let make = executableInPath("make")!
        let built = try RedlockProcess(executable: make, ["-C", Self.root.path, "deb", "SWIFT=\(wrapper)", "DEB_OUT=\(scratch.path)"])
            .wait(timeout: 15 * 60)
        try #require(built.status == 0, "make deb: \(built)")
        let packages = try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.hasPrefix("redlock_") && $0.hasSuffix(".deb") }
        try #require(packages.count == 1, "make deb made \(packages)")
        let version = try RedlockProcess(executable: executableInPath("dpkg-deb")!, ["-f", scratch.file(packages[0]), "Version", "Depends", "Recommends"]).wait(timeout: 60)
        #expect(version.status == 0, "\(version)")
        // Static: no Depends at all; libssl3 only recommended (rediss://).
        #expect(!version.stdout.contains("Depends:"), "\(version.stdout)")
        #expect(version.stdout.contains("Recommends: libssl3"), "\(version.stdout)")

        let apt = executableInPath("apt-get")!
        let environment = ["DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        let install = try RedlockProcess(executable: apt, ["install", "-y", "--no-install-recommends", scratch.file(packages[0])], environment: environment)
            .wait(timeout: 5 * 60)
        try #require(install.status == 0, "apt install: \(install)")
        defer { _ = try? RedlockProcess(executable: apt, ["remove", "-y", "redlock"], environment: environment).wait(timeout: 5 * 60) }

        let run = try RedlockProcess(executable: URL(fileURLWithPath: "/usr/bin/redlock"), ["--version"]).wait(timeout: 60)
        #expect(run.status == 0 && run.stdout.hasPrefix("redlock "), "\(run)")
        #expect(version.stdout.contains("Version: " + run.stdout.dropFirst("redlock ".count).trimmingCharacters(in: .whitespacesAndNewlines)),
                "the package's version is not the binary's: \(version.stdout) vs \(run.stdout)")

        let man = try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", "man -P cat redlock 2>&1"], environment: environment).wait(timeout: 60)
        #expect(man.status == 0 && man.stdout.contains("redlock"), "man redlock: \(man)")
        #expect(man.stdout.contains("force-release"), "man redlock shows no command reference: \(man.stdout.prefix(400))")

        // bash: the file bash-completion would load for `redlock`, sourced from where the
        // package put it.
        let bash = try RedlockProcess(executable: URL(fileURLWithPath: "/bin/bash"), ["-c", """
            source /usr/share/bash-completion/completions/redlock
            COMP_WORDS=(redlock ru); COMP_CWORD=1; COMP_LINE="redlock ru"; COMP_POINT=${#COMP_LINE}
            _redlock redlock ru redlock; printf '%s\\n' "${COMPREPLY[@]}"
            """]).wait(timeout: 60)
        #expect(bash.stdout.split(separator: "\n") == ["run"], "bash completion: \(bash)")
        // fish loads vendor completions by itself: nothing is sourced by hand.
        if let fish = executableInPath("fish") {
            let offered = try RedlockProcess(executable: fish, ["-c", "complete -C 'redlock ru'"]).wait(timeout: 60)
            #expect(offered.stdout.hasPrefix("run"), "fish completion: \(offered)")
        }
    }
}
