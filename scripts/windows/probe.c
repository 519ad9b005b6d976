/* probe.exe: a second Windows program for the Windows tests (tests/windows.rs and
   tests/cli.rs under Wine), doing what another program on a user's machine does to the
   AWS files. Built by scripts/test-windows.

     probe hold PATH MS     opens PATH as most programs do (sharing read and write, not
                            delete: Python's open(), Notepad), says "held", keeps it
                            open MS milliseconds, then closes it
     probe lock PATH MS     takes an exclusive LockFileEx lock on PATH, says "locked",
                            keeps it MS milliseconds
     probe contend PATH LOCK MS
                            holds PATH open as `hold` does, says "held", waits until
                            another process holds the lock file LOCK (mfa-tray waiting
                            for PATH), keeps PATH MS milliseconds more, says
                            "contended" (or "never contended" after 30 s), closes it
   Exit status 0, or 1 with the Windows error on stderr. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, const wchar_t *path) {
    fprintf(stderr, "probe: %s %ls: error %lu\n", what, path, GetLastError());
    return 1;
}

static int hold(const wchar_t *path, DWORD ms, int lock) {
    HANDLE h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                           lock ? OPEN_ALWAYS : OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        return fail("CreateFile", path);
    }
    if (lock) {
        OVERLAPPED at = {0};
        if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, MAXDWORD, MAXDWORD, &at)) {
            return fail("LockFileEx", path);
        }
    }
    printf(lock ? "locked\n" : "held\n");
    fflush(stdout);
    Sleep(ms);
    CloseHandle(h);
    return 0;
}

/* Whether another process holds an exclusive lock on `lock` now. */
static int locked_by_other(const wchar_t *lock) {
    HANDLE h = CreateFileW(lock, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        return 0;
    }
    OVERLAPPED at = {0};
    int other = !LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, MAXDWORD, MAXDWORD, &at);
    if (!other) {
        UnlockFileEx(h, 0, MAXDWORD, MAXDWORD, &at);
    }
    CloseHandle(h);
    return other;
}

static int contend(const wchar_t *path, const wchar_t *lock, DWORD ms) {
    HANDLE h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                           FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        return fail("CreateFile", path);
    }
    printf("held\n");
    fflush(stdout);
    DWORD start = GetTickCount();
    while (!locked_by_other(lock)) {
        if (GetTickCount() - start > 30000) {
            printf("never contended\n");
            CloseHandle(h);
            return 0;
        }
        Sleep(2);
    }
    Sleep(ms);
    printf("contended\n");
    fflush(stdout);
    CloseHandle(h);
    return 0;
}

int wmain(int argc, wchar_t **argv) {
    if (argc == 4 && (!wcscmp(argv[1], L"hold") || !wcscmp(argv[1], L"lock"))) {
        return hold(argv[2], (DWORD)wcstoul(argv[3], NULL, 10), !wcscmp(argv[1], L"lock"));
    }
    if (argc == 5 && !wcscmp(argv[1], L"contend")) {
        return contend(argv[2], argv[3], (DWORD)wcstoul(argv[4], NULL, 10));
    }
    fprintf(stderr, "usage: probe contend PATH LOCK MS | probe hold PATH MS | probe lock PATH MS\n");
    return 2;
}
