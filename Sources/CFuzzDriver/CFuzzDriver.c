#include "CFuzzDriver.h"

// Weak, so a build without libFuzzer links with the symbol left null; a build
// with `-sanitize=fuzzer` links libFuzzer whole and the symbol resolves.
extern int LLVMFuzzerRunDriver(int *argc, char ***argv,
                               int (*UserCb)(const uint8_t *Data, size_t Size)) __attribute__((weak));

int CFuzzDriver_hasLibFuzzer(void) {
    return LLVMFuzzerRunDriver != NULL;
}

int CFuzzDriver_LLVMFuzzerRunDriver(int *argc, char ***argv, CFuzzDriver_TestOneInput testOneInput) {
    if (LLVMFuzzerRunDriver == NULL) {
        return -1;
    }
    return LLVMFuzzerRunDriver(argc, argv, testOneInput);
}
