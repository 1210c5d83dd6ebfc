// libFuzzer entry point for the line framer and the command parser. Built by run-fuzz.sh with
// `swiftc -sanitize=fuzzer,address` together with Sources/PartnerlineProtocol; not part of the
// SwiftPM package (Tests/Fuzz is not a target).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLines(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    if let problem = FramingSelfCheck.check(input) {
        fatalError("framing/parsing property broken: \(problem)")
    }
    return 0
}
