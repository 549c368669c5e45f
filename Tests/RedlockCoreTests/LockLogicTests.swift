import Testing
@testable import RedlockCore

@Suite struct LockLogicTests {
    @Test func quorumIsAMajority() {
        for (count, quorum) in [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (7, 4)] {
            #expect(Quorum(instances: count).needed == quorum)
        }
    }

    @Test func validitySubtractsElapsedAndDrift() {
        let start = Instant(nanoseconds: 1_000_000_000)
        let end = start + .milliseconds(40)
        // 10s - 40ms - (100ms + 2ms)
        #expect(Quorum.validity(ttl: .seconds(10), start: start, end: end) == .milliseconds(9858))
        #expect(Quorum.validity(ttl: .milliseconds(100), start: start, end: start + .milliseconds(200)) < .zero)
    }

    @Test func tokensAreLongAndURLSafe() {
        let tokens = (0..<200).map { _ in LockValue.fresh(for: holder).token }
        #expect(Set(tokens).count == tokens.count)
        for token in tokens {
            #expect(token.count >= 22)
            #expect(token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        }
    }

    @Test func valueRoundTripsWithAwkwardFields() {
        let awkward = HolderInfo(host: "web 3", pid: 4242, user: "dé%ploy", command: "sh -c 'echo\n100%'", acquiredAtMilliseconds: 1_764_180_000_000)
        let value = LockValue(token: "abcDEF123-_abcDEF123-_x", holder: awkward)
        let text = String(decoding: value.encoded, as: UTF8.self)
        #expect(text.hasPrefix("redlock1 abcDEF123-_abcDEF123-_x host=web%203 pid=4242 "))
        #expect(!text.contains("\n"))
        #expect(LockValue.decode(value.encoded) == value)
        #expect(value.encoded.starts(with: value.lockToken.ownershipPrefix))
    }

    @Test func foreignValuesAreNotDecoded() {
        #expect(LockValue.decode(Array("2f8a9c1e-random-token".utf8)) == nil)
        #expect(LockValue.decode(Array("redlock1".utf8)) == nil)
        #expect(LockValue.decode([]) == nil)
    }

    @Test func longCommandsAreCut() {
        var long = holder
        long.command = String(repeating: "x", count: 5000)
        #expect(LockValue.fresh(for: long).encoded.count < 400)
    }

    @Test func base64URLMatchesRFC4648() {
        #expect(Base64URL.encode(Array("f".utf8)) == "Zg")
        #expect(Base64URL.encode(Array("fo".utf8)) == "Zm8")
        #expect(Base64URL.encode(Array("foo".utf8)) == "Zm9v")
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
    }

    @Test func signalNames() {
        #expect(Signal(parsing: "TERM") == .terminate)
        #expect(Signal(parsing: "sigint") == .interrupt)
        #expect(Signal(parsing: "9") == .kill)
        #expect(Signal(parsing: "SIGUSR1") == .user1)
        #expect(Signal(parsing: "FOO") == nil)
        #expect(Signal(parsing: "0") == nil)
        #expect(Signal(parsing: "65") == nil)
        #expect(Signal.terminate.description == "SIGTERM")
    }

    @Test func terminationStatusAsAShellSeesIt() {
        #expect(TerminationStatus(waitStatus: 7 << 8) == .exited(7))
        #expect(TerminationStatus(waitStatus: 15).shellStatus == 143)
        #expect(TerminationStatus.exited(0).shellStatus == 0)
    }

    @Test func bootClockIsMonotonic() {
        let a = Instant.now()
        let b = Instant.now()
        #expect(b >= a)
        #expect((a + .milliseconds(1500)) - a == .milliseconds(1500))
        #expect(Duration.milliseconds(1500).milliseconds == 1500)
        #expect(Duration.nanoseconds(1).millisecondsRoundedUp == 1)
    }

    private var holder: HolderInfo {
        HolderInfo(host: "h", pid: 1, user: "u", command: "c", acquiredAtMilliseconds: 0)
    }
}
