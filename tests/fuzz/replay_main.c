/* Corpus replay for libFuzzer targets: feeds each file named on the command
 * line to LLVMFuzzerTestOneInput once, so the fuzz suite runs under plain
 * meson test (and ASan/UBSan) without libFuzzer. Files are read whole, up to
 * 4 MiB (bigger inputs are cut there: the targets' own caps are far lower). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_BYTES (4u * 1024 * 1024)

int main(int argc, char **argv)
{
    uint8_t *buf = malloc(REPLAY_MAX_BYTES);
    if (buf == NULL)
        return 2;
    int failures = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            fprintf(stderr, "replay: cannot open %s\n", argv[i]);
            failures++;
            continue;
        }
        size_t n = fread(buf, 1, REPLAY_MAX_BYTES, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        printf("replayed %s (%zu bytes)\n", argv[i], n);
    }
    free(buf);
    return failures == 0 ? 0 : 1;
}
