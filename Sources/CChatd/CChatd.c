#define _GNU_SOURCE
#include <fcntl.h>
#include "CChatd.h"

int chatd_write_back(int fd) {
#ifdef __linux__
    // Start writing back every dirty page of the file and wait for it, without the journal commit an fsync makes.
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
#else
    return 0;
#endif
}
