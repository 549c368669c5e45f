// The child-process helpers shared with the CLI tests (Tests/TestSupport), visible in every
// file of this target.
@_exported import TestSupport
