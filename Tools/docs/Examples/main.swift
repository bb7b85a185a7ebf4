// The target doc-examples compiles the Swift examples of README.md, the DocC catalog and the
// library's doc comments as written: `Tools/docs/extract-examples` writes them into
// Examples.generated.swift (not committed), one function each, and the test command builds this
// target. Nothing here runs.
