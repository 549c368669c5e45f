// `make install` and `make uninstall` as a packager runs them: into a DESTDIR, with
// PREFIX=/usr. Slow (it builds the release binary), so it is one test.

import Foundation
import Testing

@Suite struct InstallTests {
    /// <root>/Tests/IntegrationTests/InstallTests.swift -> <root>
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// What `make install PREFIX=/usr` puts under DESTDIR, and where it comes from.
    static let installed: [(path: String, source: String?)] = [
        ("usr/bin/redlock", nil),
        ("usr/share/man/man1/redlock.1", "man/redlock.1"),
        ("usr/share/bash-completion/completions/redlock", "completions/redlock.bash"),
        ("usr/share/zsh/site-functions/_redlock", "completions/_redlock"),
        ("usr/share/fish/vendor_completions.d/redlock.fish", "completions/redlock.fish"),
    ]

    @Test(.enabled(if: executableInPath("make") != nil), .timeLimit(.minutes(20)))
    func installAndUninstallIntoDestdir() throws {
        let scratch = try TestScratch()
        let destdir = scratch.file("destdir")

        let wrapper = try Self.swiftWrapper(in: scratch)

        let make = executableInPath("make")!
        let variables = ["DESTDIR=\(destdir)", "PREFIX=/usr", "SWIFT=\(wrapper)"]
        let install = try RedlockProcess(executable: make, ["-C", Self.root.path, "install"] + variables)
            .wait(timeout: 15 * 60)
        try #require(install.status == 0, "make install: \(install)")

        for (path, source) in Self.installed {
            let file = "\(destdir)/\(path)"
            #expect(FileManager.default.fileExists(atPath: file), "make install did not install \(path)")
            if let source {
                let expected = try Data(contentsOf: Self.root.appendingPathComponent(source))
                #expect((try? Data(contentsOf: URL(fileURLWithPath: file))) == expected, "\(path) differs from \(source)")
            }
        }
        let binary = URL(fileURLWithPath: "\(destdir)/usr/bin/redlock")
        #expect(FileManager.default.isExecutableFile(atPath: binary.path))

        // One static executable: no program interpreter and no dynamic section, so nothing
        // (no Swift runtime, no libhiredis, no libssl) is loaded at start-up.
        let segments = try Self.programHeaderTypes(of: binary)
        #expect(!segments.isEmpty, "not an ELF executable")
        #expect(!segments.contains(3), "the installed binary has a program interpreter (PT_INTERP): it is linked dynamically")
        #expect(!segments.contains(2), "the installed binary has a dynamic section (PT_DYNAMIC)")
        // Stripped: no symbol table (SHT_SYMTAB), which no run reads.
        #expect(!(try Self.sectionTypes(of: binary)).contains(2), "the installed binary is not stripped: it has a symbol table")

        let version = try RedlockProcess(executable: binary, ["--version"]).wait(timeout: 60)
        #expect(version.status == 0, "\(version)")
        #expect(version.stdout.hasPrefix("redlock "), "\(version)")

        let uninstall = try RedlockProcess(executable: make, ["-C", Self.root.path, "uninstall"] + variables)
            .wait(timeout: 5 * 60)
        #expect(uninstall.status == 0, "make uninstall: \(uninstall)")
        for (path, _) in Self.installed {
            #expect(!FileManager.default.fileExists(atPath: "\(destdir)/\(path)"), "make uninstall left \(path)")
        }
    }

    /// A SWIFT for the Makefile's recipes inside a test. `swift test` holds the lock on .build
    /// for as long as the tests run, so a `swift build` there would wait for it forever. The
    /// Makefile's commands run unchanged, but through a SWIFT that builds in a scratch path of
    /// its own (kept in .build, so a second run is incremental), at low priority beside the
    /// other tests. Under `make test`, which has just built the release binary with the same
    /// flags, it answers with that build's directory instead of building it again.
    static func swiftWrapper(in scratch: TestScratch) throws -> String {
        let wrapper = scratch.file("swift")
        let build: String
        if let built = ProcessInfo.processInfo.environment["REDLOCK_TEST_RELEASE_DIR"], !built.isEmpty {
            build = """
                case " $* " in *" --show-bin-path "*) echo '\(built)';; esac
                exit 0
                """
        } else {
            build = #"exec nice -n 10 swift build --scratch-path "\#(Self.root.path)/.build/install-test" "$@""#
        }
        try """
            #!/bin/sh
            if [ "$1" = build ]; then
              shift
              \(build)
            fi
            exec swift "$@"

            """.write(toFile: wrapper, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper)
        return wrapper
    }

    /// The p_type of every program header of a 64-bit little-endian ELF file (empty when
    /// the file is not one).
    static func programHeaderTypes(of file: URL) throws -> [UInt32] {
        let bytes = [UInt8](try Data(contentsOf: file))
        func integer(at offset: Int, size: Int) -> Int {
            guard offset + size <= bytes.count else { return 0 }
            return (0..<size).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        guard bytes.count > 64, bytes[0..<4] == [0x7F, 0x45, 0x4C, 0x46], bytes[4] == 2, bytes[5] == 1 else { return [] }
        let offset = integer(at: 32, size: 8), entrySize = integer(at: 54, size: 2), count = integer(at: 56, size: 2)
        return (0..<count).map { UInt32(integer(at: offset + $0 * entrySize, size: 4)) }
    }

    /// The sh_type of every section header of a 64-bit little-endian ELF file.
    static func sectionTypes(of file: URL) throws -> [UInt32] {
        let bytes = [UInt8](try Data(contentsOf: file))
        func integer(at offset: Int, size: Int) -> Int {
            guard offset + size <= bytes.count else { return 0 }
            return (0..<size).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        guard bytes.count > 64, bytes[0..<4] == [0x7F, 0x45, 0x4C, 0x46], bytes[4] == 2, bytes[5] == 1 else { return [] }
        let offset = integer(at: 40, size: 8), entrySize = integer(at: 58, size: 2), count = integer(at: 60, size: 2)
        return (0..<count).map { UInt32(integer(at: offset + $0 * entrySize + 4, size: 4)) }
    }
}
