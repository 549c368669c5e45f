import Testing
@testable import redlock

/// Outside text made safe for a terminal: every control escaped, nothing else changed.
@Suite struct TerminalTextTests {
    @Test func controlsBecomeVisibleEscapes() {
        #expect(TerminalText.escaped("a\u{1B}]2;PWNED\u{07}b") == "a\\x1b]2;PWNED\\x07b")
        #expect(TerminalText.escaped("line\nnext\ttab\r\u{7F}") == "line\\x0anext\\x09tab\\x0d\\x7f")
        #expect(TerminalText.escaped("csi\u{9B}31m") == "csi\\u{9b}31m")
        #expect(TerminalText.escaped("bidi\u{202E}txt.exe") == "bidi\\u{202e}txt.exe")
        #expect(TerminalText.escapedKeepingNewlines("a\nb\u{1B}c") == "a\nb\\x1bc")
    }

    @Test func plainTextAndBackslashesAreUnchangedSoEscapingTwiceIsHarmless() {
        for text in ["deploy-prod", "café ☕ 東京", "C:\\path", "100%"] {
            #expect(TerminalText.escaped(text) == text)
        }
        let once = TerminalText.escaped("x\u{1B}y")
        #expect(TerminalText.escaped(once) == once)
    }

    @Test func bytesThatAreNotUTF8BecomeHexEscapes() {
        #expect(TerminalText.escaped(bytes: Array("lk-".utf8) + [0xFF]) == "lk-\\xff")
        #expect(TerminalText.escaped(bytes: Array("lk-".utf8) + [0xFE]) == "lk-\\xfe")
        #expect(TerminalText.escaped(bytes: [0x63, 0x61, 0x66, 0xE9, 0x2E]) == "caf\\xe9.")
        #expect(TerminalText.escaped(bytes: Array("café".utf8)) == "café")
        // An overlong encoding, a surrogate, a cut sequence: each byte escaped.
        #expect(TerminalText.escaped(bytes: [0xC0, 0xAF]) == "\\xc0\\xaf")
        #expect(TerminalText.escaped(bytes: [0xED, 0xA0, 0x80]) == "\\xed\\xa0\\x80")
        #expect(TerminalText.escaped(bytes: [0x61, 0xE2, 0x82]) == "a\\xe2\\x82")
        #expect(TerminalText.escaped(bytes: [0x1B, 0x5B]) == "\\x1b[")
    }

    @Test func jsonStringsEscapeEveryControl() {
        let text = JSONValue.string("a\u{1B}b\u{9B}c\u{2028}d\"e\\").text
        #expect(text == "\"a\\u001bb\\u009bc\\u2028d\\\"e\\\\\"")
    }

    @Test func theStatusLineIsCutToTheTerminalWidth() {
        #expect(Console.cut("waiting for 'k'", toColumns: 40) == "waiting for 'k'")
        let cut = Console.cut(String(repeating: "x", count: 100), toColumns: 49)
        #expect(cut.count == 49 && cut.hasSuffix("…"))
        // Wide characters take two cells each.
        #expect(Console.cut("東京東京東京", toColumns: 7) == "東京東…")
    }
}
