/* bcryptprimitives.dll for Wine 8 (Debian 12), which has none: Rust's standard library
   imports ProcessPrng from it for its random numbers. This one is built on RtlGenRandom
   (advapi32's SystemFunction036), which Wine has. Used only to run the Windows build
   under Wine in scripts/test-windows; real Windows ships the DLL. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG n = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, n)) {
            return FALSE;
        }
        data += n;
        length -= n;
    }
    return TRUE;
}
