import Testing
@testable import RedlockCore

/// INFO's `field:value` lines, as the handshake and doctor read them.
@Suite struct ServerInfoTests {
    static let text = "# Server\r\nredis_version:7.0.15\r\nrun_id:0123abcd\r\nuptime_in_seconds:42\r\nempty:\r\n\r\n# Replication\r\nrole:master\r\nmaster_role:x\r\n"

    @Test func readsTheFieldsAsked() {
        let info = ServerInfo(Self.text)
        #expect(info["redis_version"] == "7.0.15")
        #expect(info["run_id"] == "0123abcd")
        #expect(info["uptime_in_seconds"] == "42")
        #expect(info["role"] == "master", "a field is matched whole, not as the end of another")
        #expect(info["empty"] == "")
    }

    @Test func aFieldThatIsNotThereIsNil() {
        let info = ServerInfo(Self.text)
        #expect(info["run"] == nil, "a prefix of a field's name is not that field")
        #expect(info["Server"] == nil)
        #expect(info["# Server"] == nil)
        #expect(ServerInfo("")["run_id"] == nil)
        #expect(ServerInfo("run_id")["run_id"] == nil, "no colon, no value")
    }

    @Test func readsSeveralFieldsInOnePassAsTheSubscriptDoes() {
        let info = ServerInfo(bytes: Array(Self.text.utf8))
        #expect(info.values(of: ["role", "run_id", "run", "uptime_in_seconds", "empty", "master_host", "# Server"])
                == ["master", "0123abcd", nil, "42", "", nil, nil])
        #expect(ServerInfo(bytes: []).values(of: ["run_id"]) == [nil])
        #expect(ServerInfo("a:1\nb:2").values(of: ["b", "a"]) == ["2", "1"])
    }

    @Test func readsLinesEndedByNewlinesAloneAndTheLastLineUnended() {
        #expect(ServerInfo("a:1\nb:2")["b"] == "2")
        #expect(ServerInfo("a:1\nb:2\n")["a"] == "1")
    }
}
