// chatd-imaging: chatd's image worker. libvips runs here, in a process of its own, and never inside chatd: a
// decoder that crashes on a hostile file takes this process down, not the chat server, and chatd does not carry
// libvips and the hundred libraries it loads while no image is being processed.
//
// chatd starts it on demand and talks to it over its standard input and output, one request at a time, one line
// each way; fields are separated by tabs (chatd's paths never hold a tab or a newline):
//
//   allowed  NICKNAME                                  → ok 1|0           (will libvips run this loader at all)
//   probe    LOADER  PATH                              → ok W H PAGES ALPHA ORIENTATION
//   resize   SIZE  ANIMATED  FORMAT  QUALITY  IN  OUT  → ok W H
//   pixels   SIZE  PATH                                → ok W H HEX      (W × H × 3 sRGB bytes, hexadecimal)
//
// or `error MESSAGE` for any of them. The first line it writes is `ready`, or `error MESSAGE` when libvips cannot
// start. It exits when its input closes (chatd closes it after a while without work).
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chatd_vips.h"

enum { max_fields = 8 };

// The answers go to a copy of the original standard output; standard output itself goes to standard error, so a
// library that prints cannot put a line into the protocol.
static FILE *answers;

static void answer_error(void) {
    char *text = chatd_vips_take_error();
    for (char *c = text; *c; c++) {
        if (*c == '\n' || *c == '\t' || *c == '\r') *c = ' ';
    }
    size_t length = strlen(text);
    while (length > 0 && text[length - 1] == ' ') text[--length] = '\0';
    fprintf(answers, "error %s\n", length ? text : "libvips failed");
    chatd_vips_free(text);
}

static int split(char *line, char **fields) {
    int count = 0;
    for (char *field = strtok(line, "\t"); field && count < max_fields; field = strtok(NULL, "\t")) {
        fields[count++] = field;
    }
    return count;
}

static void handle(char **field, int count) {
    const char *verb = field[0];
    // Whatever an earlier request left in libvips' error buffer (a warning on success) is not this one's.
    chatd_vips_free(chatd_vips_take_error());
    if (strcmp(verb, "allowed") == 0 && count == 2) {
        fprintf(answers, "ok %d\n", chatd_vips_loader_allowed(field[1]));
    } else if (strcmp(verb, "probe") == 0 && count == 3) {
        chatd_vips_header header;
        if (chatd_vips_probe(field[2], field[1], &header)) return answer_error();
        fprintf(answers, "ok %d %d %d %d %d\n", header.width, header.height, header.pages, header.has_alpha, header.orientation);
    } else if (strcmp(verb, "resize") == 0 && count == 7) {
        int width = 0, height = 0;
        if (chatd_vips_resize(field[5], atoi(field[1]), atoi(field[2]), field[6], (chatd_vips_format)atoi(field[3]),
                atoi(field[4]), &width, &height))
            return answer_error();
        fprintf(answers, "ok %d %d\n", width, height);
    } else if (strcmp(verb, "pixels") == 0 && count == 3) {
        unsigned char *pixels = NULL;
        int width = 0, height = 0;
        if (chatd_vips_pixels(field[2], atoi(field[1]), &pixels, &width, &height)) return answer_error();
        fprintf(answers, "ok %d %d ", width, height);
        size_t length = (size_t)width * (size_t)height * 3;
        for (size_t i = 0; i < length; i++) fprintf(answers, "%02x", pixels[i]);
        fputc('\n', answers);
        chatd_vips_free(pixels);
    } else {
        fprintf(answers, "error chatd-imaging does not understand '%s' with %d field(s)\n", verb, count - 1);
    }
}

int main(int argc, char **argv) {
    // Whatever else chatd had open (sockets, the database, another child's pipes) is none of this process's.
    closefrom(3);
    answers = fdopen(dup(STDOUT_FILENO), "w");
    if (!answers || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        perror("chatd-imaging");
        return 1;
    }
    int concurrency = argc > 1 ? atoi(argv[1]) : 0;
    if (chatd_vips_start(concurrency)) {
        answer_error();
        return 1;
    }
    fputs("ready\n", answers);
    fflush(answers);
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    while ((length = getline(&line, &capacity, stdin)) > 0) {
        if (line[length - 1] == '\n') line[length - 1] = '\0';
        char *fields[max_fields];
        int count = split(line, fields);
        if (count == 0) {
            fputs("error an empty request\n", answers);
        } else {
            handle(fields, count);
        }
        fflush(answers);
    }
    free(line);
    return 0;
}
