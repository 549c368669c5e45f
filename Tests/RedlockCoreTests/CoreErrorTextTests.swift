import Foundation
import Testing
@testable import RedlockCore

/// The core's errors say what went wrong and which setting would cure it, but never how the
/// CLI spells its options: that is the CLI's to add (Sources/redlock/FlagHints.swift), so the
/// core serves any front end and an option can be renamed in one place.
@Suite struct CoreErrorTextTests {
    /// Every TLS setting error, one of each kind.
    static let contextErrors: [TLSContextError] = [
        .openSSLUnavailable("libssl.so.3: cannot open shared object file"),
        .contextNotCreated("out of memory"),
        .caCertificatesUnloadable(file: "/etc/ca.pem", reason: "no such file"),
        .trustStoreUnloadable("unknown error"),
        .keyWithoutCertificate(key: "/etc/client.key"),
        .certificateUnloadable(file: "/etc/client.pem", reason: "no such file"),
        .keyUnloadable(file: "/etc/client.key", reason: "bad decrypt"),
        .keyMismatch(key: "/etc/client.key", certificate: "/etc/client.pem"),
    ]

    /// Every per-instance error, with each TLS remedy.
    static let redisErrors: [RedisError] = [
        .connectionFailed("connection refused"), .timedOut("connecting"), .connectionClosed,
        .sentinel("no sentinel named the master"), .tls("handshake failed: wrong version number"),
        .tls("error: certificate required", remedy: .clientCertificate),
        .tls("error: connection dropped right after the handshake", remedy: .clientCertificatePerhaps),
        .authenticationFailed("WRONGPASS"), .permissionDenied("NOPERM"), .readOnly("READONLY"),
        .misconfigured("cannot run a command redlock needs"), .outOfMemory("OOM"), .noScript("NOSCRIPT"),
        .wrongType("WRONGTYPE"), .server("ERR"), .protocolViolation("bad byte"), .unexpectedReply("an integer"),
    ]

    @Test(arguments: contextErrors)
    func aTLSSettingErrorNamesNoOption(_ error: TLSContextError) {
        #expect(!error.description.contains("--"), "\(error)")
        #expect(!error.description.isEmpty)
    }

    @Test(arguments: redisErrors)
    func anInstanceErrorNamesNoOption(_ error: RedisError) {
        #expect(!error.description.contains("--"), "\(error)")
    }

    /// Without the option, the same information: which setting would cure it.
    @Test func theRemedyIsStillSaidInWords() {
        #expect(RedisError.tls("error: certificate required", remedy: .clientCertificate).description
            == "TLS error: certificate required (the server wants a client certificate)")
        #expect(RedisError.tls("error: connection dropped right after the handshake", remedy: .clientCertificatePerhaps).description
            == "TLS error: connection dropped right after the handshake (does the server want a client certificate?)")
        #expect(TLSContextError.keyWithoutCertificate(key: "k.pem").description == "TLS key 'k.pem' given without a client certificate")
        #expect(TLSContextError.keyUnloadable(file: "k.pem", reason: "bad decrypt").description
            == "cannot load TLS client key from 'k.pem': bad decrypt (an encrypted key is not supported)")
    }

    /// The errors above are the ones there are today; this catches a flag name written into
    /// any string of the core later (Lua comments, "-- text", do not look like options).
    @Test func noStringInTheCoreNamesAnOption() throws {
        let core = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/RedlockCore")
        let files = FileManager.default.enumerator(at: core, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
        #expect(files.count > 20, "found the core's sources at \(core.path)")
        var offenders: [String] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.trimmingCharacters(in: .whitespaces)
                guard !code.hasPrefix("//") else { continue }
                let beforeComment = code.range(of: " //").map { String(code[..<$0.lowerBound]) } ?? code
                if beforeComment.range(of: "--[a-z]", options: .regularExpression) != nil {
                    offenders.append("\(file.lastPathComponent):\(number + 1): \(code)")
                }
            }
        }
        #expect(offenders.isEmpty, "the CLI adds option names (FlagHints.swift):\n\(offenders.joined(separator: "\n"))")
    }
}
