// WeirHTTPFuzz: a libFuzzer target for WeirHTTP (see docs/fuzzing.md).
//
// Built with `-sanitize=fuzzer,address`, libFuzzer is linked in and runs the
// fuzzing loop over `LLVMFuzzerTestOneInput`. Built plainly, the same binary
// replays the files and directories named on its command line through the
// same entry point, so a crash input can be rerun in any build.
import CFuzzDriver
import Glibc

if CFuzzDriver_hasLibFuzzer() != 0 {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(CFuzzDriver_LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
} else {
    exit(CorpusReplay.run(paths: Array(CommandLine.arguments.dropFirst())))
}
