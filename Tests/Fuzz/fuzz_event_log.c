/*
 * libFuzzer harness for the event log's JSON escaping and record layout (CShim/event_log.c): any
 * bytes, in any room, must come out as a valid JSON string body (escapes well-formed, UTF-8 valid,
 * no control characters), never longer than the room, never split; with room enough, everything
 * is consumed and decodes back to the input where the input was valid UTF-8. A record built from
 * the same bytes stays one line under OG_EVENT_MAX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../CShim/include/event_log.h"

/* Decodes a JSON string body; returns the decoded length or -1 if it is not valid. */
static long decode(const unsigned char *s, size_t n, unsigned char *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x20 || c == '"' || c == 0x7f)
            return -1;
        if (c == '\\') {
            if (i + 1 >= n)
                return -1;
            char e = (char)s[i + 1];
            if (e == 'n' || e == 't' || e == '"' || e == '\\') {
                out[o++] = e == 'n' ? '\n' : e == 't' ? '\t' : (unsigned char)e;
                i += 2;
            } else if (e == 'u') {
                if (i + 6 > n)
                    return -1;
                char hex[5] = {(char)s[i + 2], (char)s[i + 3], (char)s[i + 4], (char)s[i + 5], 0};
                char *end;
                unsigned long code = strtoul(hex, &end, 16);
                if (*end || (code >= 0x80 && code != 0xfffd) || (code >= 0x20 && code < 0x7f))
                    return -1;
                if (code == 0xfffd) {
                    memcpy(out + o, "\xef\xbf\xbd", 3);
                    o += 3;
                } else {
                    out[o++] = (unsigned char)code;
                }
                i += 6;
            } else {
                return -1;
            }
            continue;
        }
        size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (!len || i + len > n)
            return -1;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return -1;
        if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) || (c == 0xf0 && s[i + 1] < 0x90) ||
            (c == 0xf4 && s[i + 1] > 0x8f))
            return -1;
        memcpy(out + o, s + i, len);
        o += len;
        i += len;
    }
    return (long)o;
}

static int valid_utf8(const unsigned char *s, size_t n)
{
    unsigned char *scratch = malloc(n * 3 + 1);
    /* A string with no characters that need escaping decodes as itself when it is valid UTF-8. */
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == '"' || s[i] == '\\' || s[i] == 0x7f)
            ok = 0;
    long got = ok ? decode(s, n, scratch) : -1;
    free(scratch);
    return got == (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t room = data[0] % 2 ? (size_t)data[0] * 4 : size * 6;
    const char *src = (const char *)data + 1;
    size_t len = size - 1;
    char *dst = malloc(room + 1);
    unsigned char *back = malloc(room * 3 + 1);
    size_t consumed;
    size_t n = og_json_escape(dst, room, src, len, &consumed);
    if (n > room || consumed > len)
        abort();
    long decoded = decode((const unsigned char *)dst, n, back);
    if (decoded < 0)
        abort();
    if (room >= len * 6 && consumed != len)
        abort();
    if (consumed == len && valid_utf8((const unsigned char *)src, len)) {
        /* Control characters aside (escaped, decoded back), the text survives unchanged. */
        if ((size_t)decoded != len || memcmp(back, src, len))
            abort();
    }
    free(dst);
    free(back);

    char *text = malloc(len + 1);
    memcpy(text, src, len);
    text[len] = '\0';
    const char *argv[] = {text, text, text, NULL};
    struct og_event e = og_event_init(OG_EVENT_PARENT_GONE, OG_WRITER_LIBRARY);
    e.comm = text;
    e.argv = argv;
    e.detail = text;
    e.job = text;
    struct timespec when = {(time_t)(data[0]) * 100000000LL, 999999999};
    char record[OG_EVENT_MAX];
    size_t r = og_event_format(&e, &when, text, record, sizeof(record));
    if (r == 0 || r > OG_EVENT_MAX || record[r - 1] != '\n' || memchr(record, '\n', r - 1) || record[0] != '{')
        abort();
    free(text);
    return 0;
}
