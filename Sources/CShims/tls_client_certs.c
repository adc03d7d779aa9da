// Client certificates (mTLS): the verify callback of `bind … verify`, what it
// records per connection, and the certificate fields the ssl_c_* and ssl_f_*
// fetches read (see CShims.h).
#include "CShims.h"

#include <string.h>
#include <strings.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

_Static_assert(sizeof(void *) >= 8, "the verify state is packed in a pointer-sized ex_data word");

/* A context's ignore lists: bit n of a list lets X509 error n pass. */
struct weir_verify_policy {
    uint64_t ca[2];
    uint64_t crt[2];
    int ca_all;
    int crt_all;
};

static int policy_index = -1;
static int state_index = -1;
static CRYPTO_ONCE indexes_once = CRYPTO_ONCE_STATIC_INIT;

static void free_policy(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    OPENSSL_free(ptr);
}

static void make_indexes(void) {
    policy_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_policy);
    state_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int ignored(const uint64_t *bits, int all, int err) {
    if (all) return 1;
    return err > 0 && err < 128 && ((bits[err >> 6] >> (err & 63)) & 1);
}

/* Like HAProxy's: the first error above the client's certificate and the
   first of the certificate itself are kept apart (ssl_c_ca_err, ssl_c_err);
   an error that an ignore list names lets the chain's check go on. */
static int verify_callback(int ok, X509_STORE_CTX *store) {
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (!ssl || state_index < 0) return ok;
    uint64_t state = (uint64_t)(uintptr_t)SSL_get_ex_data(ssl, state_index);
    state |= CShims_TLS_VERIFY_DONE;
    if (!ok) {
        int err = X509_STORE_CTX_get_error(store);
        int depth = X509_STORE_CTX_get_error_depth(store);
        const struct weir_verify_policy *policy = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), policy_index);
        if (depth > 0) {
            if (((state >> 32) & 0xffff) == 0)
                state |= ((uint64_t)(err & 0xffff) << 32) | ((uint64_t)(depth & 0x7fff) << 48);
            if (policy && ignored(policy->ca, policy->ca_all, err)) ok = 1;
            else state |= CShims_TLS_VERIFY_CA_FAILED;
        } else {
            if (((state >> 16) & 0xffff) == 0) state |= (uint64_t)(err & 0xffff) << 16;
            if (policy && ignored(policy->crt, policy->crt_all, err)) ok = 1;
            else state |= CShims_TLS_VERIFY_CRT_FAILED;
        }
        if (ok) ERR_clear_error();
    }
    SSL_set_ex_data(ssl, state_index, (void *)(uintptr_t)state);
    return ok;
}

int CShims_SSL_CTX_set_client_verify(SSL_CTX *ctx, int mode, const uint64_t *ca_ignore, int ca_all,
                                     const uint64_t *crt_ignore, int crt_all) {
    if (!CRYPTO_THREAD_run_once(&indexes_once, make_indexes) || policy_index < 0 || state_index < 0) return 0;
    struct weir_verify_policy *policy = OPENSSL_zalloc(sizeof *policy);
    if (!policy) return 0;
    memcpy(policy->ca, ca_ignore, sizeof policy->ca);
    memcpy(policy->crt, crt_ignore, sizeof policy->crt);
    policy->ca_all = ca_all;
    policy->crt_all = crt_all;
    if (!SSL_CTX_set_ex_data(ctx, policy_index, policy)) {
        OPENSSL_free(policy);
        return 0;
    }
    int flags = SSL_VERIFY_NONE;
    if (mode >= 1) flags = SSL_VERIFY_PEER;
    if (mode >= 2) flags |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, flags, verify_callback);
    if (mode >= 1) {
        /* Resuming a session whose client was verified needs a session id context. */
        static const unsigned char sid[] = "weir";
        SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    }
    return 1;
}

uint64_t CShims_SSL_client_verify_state(const SSL *ssl) {
    if (state_index < 0) return 0;
    return (uint64_t)(uintptr_t)SSL_get_ex_data(ssl, state_index);
}

X509 *CShims_SSL_certificate(SSL *ssl, int peer) {
    return peer ? SSL_get0_peer_certificate(ssl) : SSL_get_certificate(ssl);
}

/* An entry's short name ("CN", "O", …), or its dotted OID in `tmp`. */
static const char *entry_name(const X509_NAME_ENTRY *entry, char *tmp, int size) {
    const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(entry);
    int nid = OBJ_obj2nid(obj);
    const char *name = nid == NID_undef ? NULL : OBJ_nid2sn(nid);
    if (!name) {
        i2t_ASN1_OBJECT(tmp, size, obj);
        name = tmp;
    }
    return name;
}

/* The thread's memory BIO for RFC 2253 names: made once, emptied after each use. */
static BIO *rfc2253_bio(void) {
    static __thread BIO *bio;
    if (!bio) bio = BIO_new(BIO_s_mem());
    return bio;
}

long CShims_X509_dn(X509 *cert, int issuer, const char *entry, int occurrence, int rfc2253, char *out, long capacity) {
    X509_NAME *name = issuer ? X509_get_issuer_name(cert) : X509_get_subject_name(cert);
    if (!name) return -1;
    char tmp[128];
    int count = X509_NAME_entry_count(name);
    if (entry && *entry) {
        if (occurrence == 0) return -1;
        int seen = 0;
        int wanted = occurrence > 0 ? occurrence : -occurrence;
        for (int i = 0; i < count; i++) {
            const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, occurrence > 0 ? i : count - 1 - i);
            if (strcasecmp(entry_name(e, tmp, sizeof tmp), entry) != 0) continue;
            if (++seen != wanted) continue;
            const ASN1_STRING *data = X509_NAME_ENTRY_get_data(e);
            long length = ASN1_STRING_length(data);
            if (length > capacity) return -2;
            memcpy(out, ASN1_STRING_get0_data(data), (size_t)length);
            return length;
        }
        return -1;
    }
    if (rfc2253) {
        BIO *bio = rfc2253_bio();
        if (!bio) return -1;
        (void)BIO_reset(bio);
        if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
            (void)BIO_reset(bio);
            return -1;
        }
        char *data = NULL;
        long length = BIO_get_mem_data(bio, &data);
        long result = length <= 0 ? -1 : length > capacity ? -2 : length;
        if (result > 0) memcpy(out, data, (size_t)length);
        (void)BIO_reset(bio);
        return result;
    }
    /* HAProxy's default: "/C=FR/O=Example/CN=name". */
    long at = 0;
    for (int i = 0; i < count; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const char *key = entry_name(e, tmp, sizeof tmp);
        const ASN1_STRING *data = X509_NAME_ENTRY_get_data(e);
        long keyLength = (long)strlen(key);
        long dataLength = ASN1_STRING_length(data);
        if (at + 2 + keyLength + dataLength > capacity) return -2;
        out[at++] = '/';
        memcpy(out + at, key, (size_t)keyLength);
        at += keyLength;
        out[at++] = '=';
        memcpy(out + at, ASN1_STRING_get0_data(data), (size_t)dataLength);
        at += dataLength;
    }
    return at > 0 ? at : -1;
}

long CShims_X509_time(X509 *cert, int not_after, char *out, long capacity) {
    const ASN1_TIME *time = not_after ? X509_get0_notAfter(cert) : X509_get0_notBefore(cert);
    if (!time) return -1;
    const unsigned char *data = ASN1_STRING_get0_data(time);
    long length = ASN1_STRING_length(time);
    /* As HAProxy: YYMMDDhhmmss[Z]; a GeneralizedTime loses its century "20". */
    if (ASN1_STRING_type(time) == V_ASN1_GENERALIZEDTIME) {
        if (length < 12 || data[0] != '2' || data[1] != '0') return -1;
        data += 2;
        length -= 2;
    } else if (ASN1_STRING_type(time) == V_ASN1_UTCTIME) {
        if (length < 10 || data[0] >= '5') return -1;
    } else {
        return -1;
    }
    if (length > capacity) return -2;
    memcpy(out, data, (size_t)length);
    return length;
}

long CShims_X509_serial(X509 *cert, unsigned char *out, long capacity) {
    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    if (!serial) return -1;
    long length = ASN1_STRING_length(serial);
    if (length > capacity) return -2;
    memcpy(out, ASN1_STRING_get0_data(serial), (size_t)length);
    return length;
}

long CShims_X509_sha1(X509 *cert, unsigned char *out, long capacity) {
    if (capacity < 20) return -2;
    unsigned int length = 0;
    if (!X509_digest(cert, EVP_sha1(), out, &length)) {
        ERR_clear_error();
        return -1;
    }
    return (long)length;
}

long CShims_X509_der(X509 *cert, unsigned char *out, long capacity) {
    int length = i2d_X509(cert, NULL);
    if (length <= 0) return -1;
    if (length > capacity) return -2;
    unsigned char *p = out;
    return i2d_X509(cert, &p);
}

long CShims_X509_version(X509 *cert) { return X509_get_version(cert) + 1; }

const char *CShims_X509_signature_algorithm(X509 *cert) {
    const ASN1_OBJECT *algorithm = NULL;
    X509_ALGOR_get0(&algorithm, NULL, NULL, X509_get0_tbs_sigalg(cert));
    return algorithm ? OBJ_nid2sn(OBJ_obj2nid(algorithm)) : NULL;
}

const char *CShims_X509_key_algorithm(X509 *cert) {
    ASN1_OBJECT *algorithm = NULL;
    X509_PUBKEY *key = X509_get_X509_PUBKEY(cert);
    if (!key || !X509_PUBKEY_get0_param(&algorithm, NULL, NULL, NULL, key) || !algorithm) return NULL;
    return OBJ_nid2sn(OBJ_obj2nid(algorithm));
}
