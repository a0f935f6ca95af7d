/*
 * xlu_dump: reads an xl.cfg(5) file with Xen's own parser (libxlutil) and
 * prints the canonical dump that hv_cfg_dump prints from hv's parser, so
 * run_diff.sh can compare the two line by line.
 *
 *   parse: ok                      or "parse: error" (and nothing more)
 *   KEY = "text"                   a single value (numbers are kept as text)
 *   KEY long N                     ... when xlu_cfg_get_long reads it
 *   KEY = list N                   a list, then its items:
 *   KEY[i] = "text"
 *   disk[i]: target="..." format=... vdev="..." access=rw|ro devtype=disk|cdrom
 *            backendtype=... backend="..." script="..." specification=...
 *            direct_io_safe=0|1 discard=default|true|false
 *   disk[i]: error                 xlu_disk_parse refused it
 *   vif[i] rate: bytes_per_interval=N interval_usecs=M   for a rate= item
 *
 * libxlutil cannot list the keys it read, so every word of the file that
 * could be a key ([a-z][._0-9a-z]*, anywhere, comments included) is asked
 * for; those it has are printed, sorted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxlutil.h>

static void print_quoted(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c >= 0x20 && c < 0x7f) putchar(c);
        else printf("\\x%02x", c);
    }
    putchar('"');
}

static const char *format_name(libxl_disk_format f)
{
    switch (f) {
    case LIBXL_DISK_FORMAT_RAW: return "raw";
    case LIBXL_DISK_FORMAT_QCOW: return "qcow";
    case LIBXL_DISK_FORMAT_QCOW2: return "qcow2";
    case LIBXL_DISK_FORMAT_VHD: return "vhd";
    case LIBXL_DISK_FORMAT_QED: return "qed";
    case LIBXL_DISK_FORMAT_EMPTY: return "empty";
    default: return "unknown";
    }
}

static const char *backend_name(libxl_disk_backend b)
{
    switch (b) {
    case LIBXL_DISK_BACKEND_PHY: return "phy";
    case LIBXL_DISK_BACKEND_TAP: return "tap";
    case LIBXL_DISK_BACKEND_QDISK: return "qdisk";
    case LIBXL_DISK_BACKEND_STANDALONE: return "standalone";
    default: return "unknown";
    }
}

static const char *specification_name(libxl_disk_specification s)
{
    switch (s) {
    case LIBXL_DISK_SPECIFICATION_XEN: return "xen";
    case LIBXL_DISK_SPECIFICATION_VIRTIO: return "virtio";
    default: return "unknown";
    }
}

static void dump_disk(XLU_Config *cfg, int i, const char *spec)
{
    libxl_device_disk d;
    libxl_device_disk_init(&d);
    printf("disk[%d]: ", i);
    if (xlu_disk_parse(cfg, 1, &spec, &d)) {
        printf("error\n");
        libxl_device_disk_dispose(&d);
        return;
    }
    printf("target=");
    print_quoted(d.pdev_path ? d.pdev_path : "");
    printf(" format=%s vdev=", format_name(d.format));
    print_quoted(d.vdev ? d.vdev : "");
    printf(" access=%s devtype=%s backendtype=%s backend=", d.readwrite ? "rw" : "ro",
           d.is_cdrom ? "cdrom" : "disk", backend_name(d.backend));
    print_quoted(d.backend_domname ? d.backend_domname : "");
    printf(" script=");
    print_quoted(d.script ? d.script : "");
    printf(" specification=%s direct_io_safe=%d discard=%s\n", specification_name(d.specification),
           d.direct_io_safe ? 1 : 0,
           libxl_defbool_is_default(d.discard_enable) ? "default"
           : libxl_defbool_val(d.discard_enable)      ? "true"
                                                      : "false");
    libxl_device_disk_dispose(&d);
}

/* xl's own split of a vif spec (strtok on ',', leading spaces skipped);
 * each rate= value goes to xlu_vif_parse_rate. */
static void dump_vif_rates(XLU_Config *cfg, int i, const char *spec)
{
    char *copy = strdup(spec), *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        while (*p == ' ') p++;
        if (strncmp(p, "rate=", 5)) continue;
        libxl_device_nic nic;
        libxl_device_nic_init(&nic);
        if (xlu_vif_parse_rate(cfg, p + 5, &nic))
            printf("vif[%d] rate: error\n", i);
        else
            printf("vif[%d] rate: bytes_per_interval=%llu interval_usecs=%u\n", i,
                   (unsigned long long)nic.rate_bytes_per_interval, (unsigned)nic.rate_interval_usecs);
        libxl_device_nic_dispose(&nic);
    }
    free(copy);
}

static int compare_words(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every maximal run of [._0-9a-zA-Z] that reads [a-z][._0-9a-z]*, sorted,
 * without repeats. */
static char **candidate_keys(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    char **words = NULL, word[256];
    size_t n = 0, len = 0;
    int c, ok = 1;
    if (!f) return NULL;
    do {
        c = fgetc(f);
        const int ident = c != EOF && (c == '.' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                                       (c >= 'A' && c <= 'Z'));
        if (ident) {
            if (len == 0) ok = c >= 'a' && c <= 'z';
            if (c >= 'A' && c <= 'Z') ok = 0;
            if (len + 1 < sizeof word) word[len++] = (char)c;
            else ok = 0;
            continue;
        }
        if (len > 0 && ok) {
            word[len] = 0;
            words = realloc(words, (n + 1) * sizeof *words);
            words[n++] = strdup(word);
        }
        len = 0;
    } while (c != EOF);
    fclose(f);
    qsort(words, n, sizeof *words, compare_words);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (kept > 0 && !strcmp(words[kept - 1], words[i])) { free(words[i]); continue; }
        words[kept++] = words[i];
    }
    *count = kept;
    return words;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.cfg\n", argv[0]);
        return 2;
    }
    FILE *report = fopen("/dev/null", "w"); /* the differences are in the dump, not xlu's warnings */
    XLU_Config *cfg = xlu_cfg_init(report ? report : stderr, argv[1]);
    if (!cfg) return 2;
    if (xlu_cfg_readfile(cfg, argv[1])) {
        printf("parse: error\n");
        xlu_cfg_destroy(cfg);
        return 0;
    }
    printf("parse: ok\n");

    size_t nkeys = 0;
    char **keys = candidate_keys(argv[1], &nkeys);
    for (size_t k = 0; k < nkeys; k++) {
        const char *key = keys[k], *text;
        XLU_ConfigList *list;
        int n;
        long l;
        if (!xlu_cfg_get_list(cfg, key, &list, &n, 1)) {
            printf("%s = list %d\n", key, n);
            for (int i = 0; i < n; i++) {
                const char *item = xlu_cfg_get_listitem(list, i);
                printf("%s[%d] = ", key, i);
                if (item) print_quoted(item);
                else printf("<not a string>");
                putchar('\n');
            }
            for (int i = 0; i < n; i++) {
                const char *item = xlu_cfg_get_listitem(list, i);
                if (!item) continue;
                if (!strcmp(key, "disk")) dump_disk(cfg, i, item);
                if (!strcmp(key, "vif")) dump_vif_rates(cfg, i, item);
            }
        } else if (!xlu_cfg_get_string(cfg, key, &text, 1)) {
            printf("%s = ", key);
            print_quoted(text);
            putchar('\n');
            if (!xlu_cfg_get_long(cfg, key, &l, 1)) printf("%s long %ld\n", key, l);
        }
        free(keys[k]);
    }
    free(keys);
    xlu_cfg_destroy(cfg);
    if (report) fclose(report);
    return 0;
}
