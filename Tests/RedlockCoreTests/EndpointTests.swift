import Testing
@testable import RedlockCore

@Suite struct EndpointTests {
    @Test func plainHostAndDefaults() throws {
        let endpoint = try Endpoint.parse("redis://127.0.0.1")
        #expect(endpoint.address == .tcp(host: "127.0.0.1", port: 6379))
        #expect(endpoint.database == 0)
        #expect(endpoint.password == nil)
        #expect(endpoint.description == "127.0.0.1:6379")
    }

    @Test func credentialsPortAndDatabase() throws {
        let endpoint = try Endpoint.parse("redis://deploy:p%40ss%3Aword@cache.internal:6380/3")
        #expect(endpoint.address == .tcp(host: "cache.internal", port: 6380))
        #expect(endpoint.username == "deploy")
        #expect(endpoint.password == "p@ss:word")
        #expect(endpoint.database == 3)
        #expect(!endpoint.description.contains("p@ss"))
    }

    @Test func passwordOnly() throws {
        let endpoint = try Endpoint.parse("redis://:secret@localhost:7000")
        #expect(endpoint.username == nil)
        #expect(endpoint.password == "secret")
    }

    @Test func tlsURLs() throws {
        let endpoint = try Endpoint.parse("rediss://app:s3cr%2Ft@cache.example.com:6380/2")
        #expect(endpoint.usesTLS)
        #expect(endpoint.address == .tcp(host: "cache.example.com", port: 6380))
        #expect(endpoint.password == "s3cr/t")
        #expect(endpoint.database == 2)
        #expect(endpoint.description == "cache.example.com:6380")
        #expect(try !Endpoint.parse("redis://h").usesTLS)
        #expect(try Endpoint.parse("REDISS://h").usesTLS)
        // One port is one instance, with or without TLS in the URL.
        #expect(try Endpoint.parse("rediss://h:1").identity == Endpoint.parse("redis://h:1").identity)
    }

    @Test func sentinelURLs() throws {
        let endpoint = try Endpoint.parse("redis+sentinel://app:pw@10.0.0.1:26379,sentinel-b,[::1]:26380/locks/3")
        #expect(endpoint.address == .sentinel(sentinels: [
            HostPort(host: "10.0.0.1", port: 26379), HostPort(host: "sentinel-b", port: 26379), HostPort(host: "::1", port: 26380),
        ], master: "locks"))
        #expect(endpoint.username == "app")
        #expect(endpoint.password == "pw")
        #expect(endpoint.database == 3)
        #expect(endpoint.description == "locks via sentinel 10.0.0.1:26379,sentinel-b:26379,[::1]:26380")
        #expect(!endpoint.description.contains("pw"))
        #expect(try Endpoint.parse("redis+sentinel://s:1/m").database == 0)
        #expect(try !Endpoint.parse("redis+sentinel://s:1/m").usesTLS)
        #expect(try Endpoint.parse("rediss+sentinel://s:1/m").usesTLS)
        #expect(try Endpoint.parse("rediss+cluster://n:1").usesTLS)
    }

    @Test(arguments: ["redis+sentinel://s:1", "redis+sentinel://s:1/", "redis+sentinel://s:1,s:1/m", "redis+sentinel://s:1,/m",
                      "redis+sentinel://s:1/m/x", "redis+sentinel://s:1/m n", "redis+sentinel:///m"])
    func rejectsBadSentinelURLs(_ url: String) {
        #expect(throws: EndpointError.self) { try Endpoint.parse(url) }
    }

    @Test func ipv6InBrackets() throws {
        let endpoint = try Endpoint.parse("redis://[::1]:7001")
        #expect(endpoint.address == .tcp(host: "::1", port: 7001))
        #expect(endpoint.description == "[::1]:7001")
    }

    @Test func unixSocketWithDatabase() throws {
        let endpoint = try Endpoint.parse("unix:///run/redis/redis.sock?db=2")
        #expect(endpoint.address == .unix(path: "/run/redis/redis.sock"))
        #expect(endpoint.database == 2)
    }

    @Test(arguments: [
        "127.0.0.1:6379", "http://host", "redis://", "redis://host:0", "redis://host:70000",
        "redis://host:port", "redis://host/x", "redis://::1", "redis://user@host", "unix://relative.sock",
        "redis://host/-1", "redis://[::1", "redis://:pw%zz@host", "rediss://", "unix:///s?x=1",
    ])
    func rejectsBadURLs(_ url: String) {
        #expect(throws: EndpointError.self) { try Endpoint.parse(url) }
    }

    @Test func errorsNeverShowThePassword() {
        do {
            _ = try Endpoint.parse("redis://admin:hunter2@host:notaport")
            Issue.record("expected an error")
        } catch {
            #expect(!error.description.contains("hunter2"))
            #expect(error.description.contains("***@host"))
        }
    }

    @Test(arguments: [
        ("redis:/:hunter2@host", "redis:/***@host"),
        ("redis//:hunter2@host", "redis//***@host"),
        ("redis:hunter2@host", "redis:***@host"),
        ("hunter2@host", "***@host"),
        ("user:hunter2@host", "***@host"),
        ("REDIS://u:hunter2@h:1", "REDIS://***@h:1"),
        ("redis://:pw@with@at@h", "redis://***@h"),
        ("redis://h:1", "redis://h:1"),
        ("unix:///s?db=2&password=hunter2&hunter2", "unix:///s?db=2&password=***&***"),
        ("redis://u:hunter2@h:1/0?password=hunter2", "redis://***@h:1/0?password=***"),
    ])
    func redactionHidesWhateverCouldBeACredential(_ url: String, _ shown: String) {
        #expect(Endpoint.redacted(url) == shown)
        #expect(!Endpoint.redacted(url).contains("hunter2"))
    }

    @Test(arguments: ["redis:/:hunter2@host", "redis//:hunter2@host", "redis:hunter2@host", "hunter2@host", "redis://u:hunter2@host:0", "redis://u:hunter2@ho st",
                      ":hunter2@host://x", "redis:hunter2@host://x", "redis://:hunter2", "redis://u:hunter2", "redis://u:hunter2/0",
                      "redis+sentinel://u:hunter2/m", "redis+cluster://h:1,u:hunter2",
                      // A password in a query, as other clients take one (and items without '=').
                      "unix:///tmp/r.sock?password=hunter2", "unix:///tmp/r.sock?db=1&password=hunter2", "unix:///tmp/r.sock?hunter2",
                      "redis://h:1/0?password=hunter2", "redis://h:1?password=hunter2", "rediss://h:1/?user=a&password=hunter2",
                      "redis+sentinel://h:1/m?password=hunter2", "redis+cluster://h:1?hunter2", "redis://u:p?w@h:1/0?password=hunter2"])
    func malformedURLsDoNotEchoThePassword(_ url: String) {
        do {
            _ = try Endpoint.parse(url)
            Issue.record("\(url) parsed")
        } catch {
            #expect(!error.description.contains("hunter2"), "\(error)")
        }
    }

    @Test func identityIgnoresCredentials() throws {
        #expect(try Endpoint.parse("redis://:a@h:1").identity == Endpoint.parse("redis://h:1").identity)
        #expect(try Endpoint.parse("redis://h:1/1").identity != Endpoint.parse("redis://h:1/2").identity)
    }
}
