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

    @Test func visitsEveryFieldInOnePassAsTheSubscriptReadsThem() {
        func fields(_ info: ServerInfo) -> [String] {
            var seen: [String] = []
            info.forEachField { field, value in
                seen.append(String(decoding: field, as: UTF8.self) + "=" + String(decoding: value, as: UTF8.self))
                return true
            }
            return seen
        }
        #expect(fields(ServerInfo(bytes: Array(Self.text.utf8)))
                == ["redis_version=7.0.15", "run_id=0123abcd", "uptime_in_seconds=42", "empty=", "role=master", "master_role=x"])
        #expect(fields(ServerInfo(bytes: [])) == [])
        #expect(fields(ServerInfo("a:1\nb:2")) == ["a=1", "b=2"], "newlines alone, the last line unended")
        var first: [String] = []
        ServerInfo("a:1\nb:2").forEachField { field, _ in first.append(String(decoding: field, as: UTF8.self)); return false }
        #expect(first == ["a"], "stops when told")
        let role = Array("role".utf8)
        role.withUnsafeBufferPointer { field in
            #expect(ServerInfo.field(field, is: "role"))
            #expect(!ServerInfo.field(field, is: "rol") && !ServerInfo.field(field, is: "roles"))
        }
    }

    @Test func readsLinesEndedByNewlinesAloneAndTheLastLineUnended() {
        #expect(ServerInfo("a:1\nb:2")["b"] == "2")
        #expect(ServerInfo("a:1\nb:2\n")["a"] == "1")
    }
}
