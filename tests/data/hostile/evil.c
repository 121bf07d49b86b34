/* Native code for the hostile-deck tests: loading it leaves native_marker in the current directory. */
#include <stdio.h>
__attribute__((constructor)) static void ckt_hostile(void) {
    FILE *f = fopen("native_marker", "w");
    if (f) fclose(f);
}
