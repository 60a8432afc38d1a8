/* HMAC-SHA256, per-agent key derivation, hex, and private key files (see hmac.h). The crypto is
 * mbedTLS's (the library nng's TLS already uses); this file only decides how slic uses it. */
#include "hmac.h"

#include "alloc.h"
#include "batch.h"

#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int slic_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                     uint8_t out[SLIC_HMAC_LEN])
{
    const mbedtls_md_info_t *sha256 = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    /* mbedtls_md_hmac fails only for want of memory for its context (or a bad md_info). */
    if (!sha256 || mbedtls_md_hmac(sha256, key, key_len, msg, msg_len, out) != 0)
        return SLIC_ENOMEM;
    return 0;
}

bool slic_equal_ct(const void *a, const void *b, size_t n)
{
    return mbedtls_ct_memcmp(a, b, n) == 0;
}

bool slic_hmac_sha256_verify(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                             const uint8_t *mac, size_t mac_len)
{
    uint8_t want[SLIC_HMAC_LEN];
    /* The length is public (every valid MAC has it), so checking it first leaks nothing. */
    if (!mac || mac_len != SLIC_HMAC_LEN || slic_hmac_sha256(key, key_len, msg, msg_len, want))
        return false;
    bool ok = slic_equal_ct(want, mac, SLIC_HMAC_LEN);
    slic_wipe(want, sizeof want);
    return ok;
}

int slic_agent_key_derive(const uint8_t *secret, size_t secret_len, const char *agent_id,
                          uint8_t key[SLIC_HMAC_LEN])
{
    if (!secret || secret_len < SLIC_SECRET_MIN || !agent_id || !slic_name_valid(agent_id))
        return SLIC_EINVAL;
    uint8_t input[sizeof SLIC_AGENT_KEY_LABEL + SLIC_NAME_MAX];
    size_t label_len = sizeof SLIC_AGENT_KEY_LABEL; /* with its NUL: the 0x00 separator */
    size_t id_len = strlen(agent_id);
    memcpy(input, SLIC_AGENT_KEY_LABEL, label_len);
    memcpy(input + label_len, agent_id, id_len);
    return slic_hmac_sha256(secret, secret_len, input, label_len + id_len, key);
}

void slic_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * n] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int slic_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t out_len)
{
    if (hex_len != 2 * out_len)
        return SLIC_EINVAL;
    for (size_t i = 0; i < out_len; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            slic_wipe(out, out_len);
            return SLIC_EINVAL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

void slic_wipe(void *p, size_t n)
{
    if (p && n)
        mbedtls_platform_zeroize(p, n);
}

/* ---- files --------------------------------------------------------------------------------- */

/* The checks made on the open file before reading a byte of it. */
static int file_check(int fd, const char *path, size_t max, unsigned flags, const char *what,
                      struct slic_errmsg *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return slic_errmsg_set(err, -errno, "%s %s: %s", what, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return slic_errmsg_set(err, SLIC_ECONFIG, "%s %s: not a regular file", what, path);
    if ((flags & SLIC_FILE_PRIVATE) && (st.st_mode & (S_IRWXG | S_IRWXO)))
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "%s %s: group or other users have access to it (mode %04o), and "
                               "it holds a secret; run: chmod 600 '%s'",
                               what, path, (unsigned)(st.st_mode & 07777), path);
    if (st.st_size <= 0)
        return slic_errmsg_set(err, SLIC_ECONFIG, "%s %s: the file is empty", what, path);
    if ((uint64_t)st.st_size > max)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "%s %s: %lld bytes, at most %zu expected (is it the right file?)",
                               what, path, (long long)st.st_size, max);
    return 0;
}

/* Reads up to max + 1 bytes, so a file that grew since fstat is still caught as too large. */
static int file_read_all(int fd, char *buf, size_t max, size_t *len)
{
    size_t n = 0;
    while (n <= max) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return 0;
}

static void strip_newline(char *buf, size_t *len)
{
    if (*len > 0 && buf[*len - 1] == '\n')
        buf[--*len] = '\0';
    if (*len > 0 && buf[*len - 1] == '\r')
        buf[--*len] = '\0';
}

int slic_file_read(const char *path, size_t max, unsigned flags, const char *what, char **out,
                   size_t *len, struct slic_errmsg *err)
{
    /* O_NONBLOCK: a FIFO put where a key should be must not hang the daemon at start. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return slic_errmsg_set(err, -errno, "%s %s: cannot open: %s", what, path, strerror(errno));
    int rc = file_check(fd, path, max, flags, what, err);
    char *buf = rc ? NULL : slic_malloc(max + 2);
    size_t n = 0;
    if (!rc && !buf)
        rc = SLIC_ENOMEM;
    if (!rc && (rc = file_read_all(fd, buf, max, &n)) != 0)
        slic_errmsg_set(err, rc, "%s %s: cannot read: %s", what, path, slic_strerror(rc));
    else if (!rc && n > max)
        rc = slic_errmsg_set(err, SLIC_ECONFIG, "%s %s: more than %zu bytes", what, path, max);
    close(fd);
    if (rc) {
        slic_file_free(buf, max + 1); /* wipes all max + 2 bytes */
        return rc;
    }
    buf[n] = '\0';
    if (flags & SLIC_FILE_STRIP_NEWLINE)
        strip_newline(buf, &n);
    *out = buf;
    *len = n;
    return 0;
}

void slic_file_free(char *buf, size_t len)
{
    if (!buf)
        return;
    /* Past *len lies at least the NUL; the rest of the allocation may hold a stripped newline,
     * never key material, but wiping the whole allocation would need its size. */
    slic_wipe(buf, len + 1);
    slic_free(buf);
}

int slic_file_check_at(const slic_yaml_node *n, unsigned flags, struct slic_errmsg *err)
{
    const char *path = slic_yaml_text(n);
    char *buf = NULL;
    size_t len = 0;
    struct slic_errmsg why = {{0}};
    int rc = path ? slic_file_read(path, SLIC_FILE_CHECK_MAX, flags, "file", &buf, &len, &why)
                  : slic_errmsg_set(&why, SLIC_ECONFIG, "expected a file name");
    slic_file_free(buf, len);
    if (rc == 0 || rc == SLIC_ENOMEM)
        return rc;
    return slic_yaml_error(n, err, SLIC_ECONFIG, "%s", why.text);
}

int slic_secret_file_read(const char *path, const char *what, uint8_t **out, size_t *len,
                          struct slic_errmsg *err)
{
    char *buf = NULL;
    size_t n = 0;
    int rc = slic_file_read(path, SLIC_SECRET_MAX + 2, SLIC_FILE_PRIVATE | SLIC_FILE_STRIP_NEWLINE,
                            what, &buf, &n, err);
    if (rc)
        return rc;
    if (n < SLIC_SECRET_MIN || n > SLIC_SECRET_MAX) {
        slic_file_free(buf, n);
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "%s %s: a secret of %zu bytes; %d..%d expected (make one with: "
                               "openssl rand -hex 32 > '%s')",
                               what, path, n, SLIC_SECRET_MIN, SLIC_SECRET_MAX, path);
    }
    *out = (uint8_t *)buf;
    *len = n;
    return 0;
}

int slic_agent_key_file_read(const char *path, const char *what, uint8_t key[SLIC_HMAC_LEN],
                             struct slic_errmsg *err)
{
    char *buf = NULL;
    size_t n = 0;
    int rc = slic_file_read(path, SLIC_AGENT_KEY_HEX_LEN + 2,
                            SLIC_FILE_PRIVATE | SLIC_FILE_STRIP_NEWLINE, what, &buf, &n, err);
    if (rc)
        return rc;
    rc = slic_hex_decode(buf, n, key, SLIC_HMAC_LEN);
    slic_file_free(buf, n);
    if (rc)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "%s %s: not an agent key (expected %d hex digits, as "
                               "`slic-aggregator --agent-key AGENT_ID` prints them)",
                               what, path, SLIC_AGENT_KEY_HEX_LEN);
    return 0;
}
