#ifndef CFUZZDRIVER_H
#define CFUZZDRIVER_H

#include <stddef.h>
#include <stdint.h>

/// The callback libFuzzer calls with each input: return 0.
typedef int (*CFuzzDriver_TestOneInput)(const uint8_t *data, size_t size);

/// Whether libFuzzer is linked in (a build with `-sanitize=fuzzer`).
int CFuzzDriver_hasLibFuzzer(void);

/// Hands control to libFuzzer's driver (`LLVMFuzzerRunDriver`), which parses
/// `-flags` and corpus paths from argv and calls `testOneInput` until done.
/// Returns its exit status, or -1 when libFuzzer is not linked in.
int CFuzzDriver_LLVMFuzzerRunDriver(int *argc, char ***argv, CFuzzDriver_TestOneInput testOneInput);

#endif
