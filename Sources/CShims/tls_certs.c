// OpenSSL macros and multi-step calls for the certificate options of
// `bind … ssl` (see CShims.h): groups and signature algorithms, tickets and
// cipher preference, DH parameters, OCSP stapling.
#include "CShims.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

int CShims_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_groups_list(ctx, list);
}

int CShims_SSL_CTX_set1_sigalgs_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_sigalgs_list(ctx, list);
}

void CShims_SSL_CTX_set_bind_flags(SSL_CTX *ctx, int no_tickets, int prefer_client_ciphers) {
    if (no_tickets) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (prefer_client_ciphers) SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
}

int CShims_SSL_CTX_set_dh_auto(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_dh_auto(ctx, 1);
}

static void error_text(char *out, int capacity, const char *fallback) {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    const char *reason = code ? ERR_reason_error_string(code) : NULL;
    snprintf(out, (size_t)capacity, "%s", reason ? reason : fallback);
}

EVP_PKEY *CShims_load_dh_params(const char *path, char *error, int capacity) {
    ERR_clear_error();
    BIO *bio = BIO_new_file(path, "r");
    if (!bio) {
        error_text(error, capacity, "cannot open the file");
        return NULL;
    }
    EVP_PKEY *params = PEM_read_bio_Parameters(bio, NULL);
    BIO_free(bio);
    if (!params) {
        error_text(error, capacity, "no PEM DH parameters");
        return NULL;
    }
    if (!EVP_PKEY_is_a(params, "DH")) {
        EVP_PKEY_free(params);
        snprintf(error, (size_t)capacity, "the parameters are not DH parameters");
        return NULL;
    }
    if (EVP_PKEY_get_bits(params) < 1024) {
        snprintf(error, (size_t)capacity, "DH parameters of %d bits are too weak (1024 at least)", EVP_PKEY_get_bits(params));
        EVP_PKEY_free(params);
        return NULL;
    }
    return params;
}

int CShims_SSL_CTX_set_dh_params(SSL_CTX *ctx, EVP_PKEY *params) {
    if (!EVP_PKEY_up_ref(params)) return 0;
    if (SSL_CTX_set0_tmp_dh_pkey(ctx, params) != 1) {
        EVP_PKEY_free(params);
        return 0;
    }
    return 1;
}

void CShims_SSL_CTX_set_tlsext_status_cb(SSL_CTX *ctx, int (*callback)(SSL *, void *), void *arg) {
    SSL_CTX_set_tlsext_status_cb(ctx, callback);
    SSL_CTX_set_tlsext_status_arg(ctx, arg);
}

int CShims_SSL_set_tlsext_status_ocsp_resp(SSL *ssl, const unsigned char *response, long length) {
    unsigned char *copy = OPENSSL_memdup(response, (size_t)length);
    if (!copy) return 0;
    if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, length) != 1) {
        OPENSSL_free(copy);
        return 0;
    }
    return 1;
}

/* The issuer of `cert`: in the context's chain, else in `issuer_file`. */
static X509 *find_issuer(SSL_CTX *ctx, X509 *cert, const char *issuer_file) {
    STACK_OF(X509) *chain = NULL;
    SSL_CTX_get0_chain_certs(ctx, &chain);
    for (int i = 0; chain && i < sk_X509_num(chain); i++) {
        X509 *candidate = sk_X509_value(chain, i);
        if (X509_check_issued(candidate, cert) == X509_V_OK) {
            X509_up_ref(candidate);
            return candidate;
        }
    }
    if (!issuer_file) return NULL;
    BIO *bio = BIO_new_file(issuer_file, "r");
    if (!bio) return NULL;
    X509 *issuer = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (issuer && X509_check_issued(issuer, cert) != X509_V_OK) {
        X509_free(issuer);
        issuer = NULL;
    }
    return issuer;
}

int CShims_OCSP_check_response(SSL_CTX *ctx, X509 *cert, const char *issuer_file, const unsigned char *der,
                               long length, long long *next_update, char *message, int capacity) {
    int result = 1;
    if (cert) {
        if (SSL_CTX_select_current_cert(ctx, cert) != 1) cert = NULL;
    } else {
        cert = SSL_CTX_get0_certificate(ctx);
    }
    X509 *issuer = cert ? find_issuer(ctx, cert, issuer_file) : NULL;
    OCSP_CERTID *id = NULL;
    OCSP_RESPONSE *response = NULL;
    OCSP_BASICRESP *basic = NULL;
    ERR_clear_error();
    if (!issuer) {
        snprintf(message, (size_t)capacity, "the issuer of the certificate is neither in its chain nor in a '.issuer' file");
        result = 2;
        goto out;
    }
    id = OCSP_cert_to_id(NULL, cert, issuer);
    const unsigned char *p = der;
    response = d2i_OCSP_RESPONSE(NULL, &p, length);
    if (!response || p != der + length) {
        snprintf(message, (size_t)capacity, "not a DER OCSP response");
        goto out;
    }
    int status = OCSP_response_status(response);
    if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        snprintf(message, (size_t)capacity, "the OCSP response status is %s, not successful", OCSP_response_status_str(status));
        goto out;
    }
    basic = OCSP_response_get1_basic(response);
    if (!basic) {
        snprintf(message, (size_t)capacity, "no basic OCSP response");
        goto out;
    }
    if (OCSP_resp_count(basic) != 1) {
        snprintf(message, (size_t)capacity, "%d single responses, expected one", OCSP_resp_count(basic));
        goto out;
    }
    OCSP_SINGLERESP *single = OCSP_resp_get0(basic, 0);
    const OCSP_CERTID *single_id = OCSP_SINGLERESP_get0_id(single);
    if (!id || !single_id || OCSP_id_cmp(single_id, id) != 0) {
        snprintf(message, (size_t)capacity, "the response is not about this certificate and issuer");
        result = 3;
        goto out;
    }
    int reason = 0;
    ASN1_GENERALIZEDTIME *revoked = NULL, *this_update = NULL, *next = NULL;
    int cert_status = OCSP_single_get0_status(single, &reason, &revoked, &this_update, &next);
    if (cert_status != V_OCSP_CERTSTATUS_GOOD) {
        snprintf(message, (size_t)capacity, "the certificate status is %s, not good", OCSP_cert_status_str(cert_status));
        goto out;
    }
    if (!next) {
        snprintf(message, (size_t)capacity, "the response has no nextUpdate");
        goto out;
    }
    if (!OCSP_check_validity(this_update, next, 300, -1)) {
        snprintf(message, (size_t)capacity, "the response is not valid now (thisUpdate/nextUpdate)");
        goto out;
    }
    struct tm t;
    if (ASN1_TIME_to_tm(next, &t) != 1) {
        snprintf(message, (size_t)capacity, "unreadable nextUpdate");
        goto out;
    }
    *next_update = (long long)timegm(&t);
    result = 0;
out:
    ERR_clear_error();
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(response);
    OCSP_CERTID_free(id);
    X509_free(issuer);
    return result;
}

int CShims_SSL_client_hello_server_name(SSL *ssl, const unsigned char **name, size_t *length) {
    const unsigned char *p;
    size_t remaining;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &remaining) || remaining <= 2) return 0;
    size_t list = ((size_t)p[0] << 8) | p[1];
    if (list + 2 != remaining) return 0;
    p += 2;
    remaining -= 2;
    if (remaining < 3 || p[0] != TLSEXT_NAMETYPE_host_name) return 0;
    size_t n = ((size_t)p[1] << 8) | p[2];
    if (n == 0 || n > remaining - 3) return 0;
    *name = p + 3;
    *length = n;
    return 1;
}

int CShims_SSL_set_handshake_settings(SSL *ssl, int min_version, int max_version, const char *ciphers,
                                      const char *ciphersuites, const char *groups) {
    int ok = SSL_set_min_proto_version(ssl, min_version) == 1 && SSL_set_max_proto_version(ssl, max_version) == 1
        && SSL_set_cipher_list(ssl, ciphers) == 1
        && (!ciphersuites || SSL_set_ciphersuites(ssl, ciphersuites) == 1)
        && (!groups || SSL_set1_groups_list(ssl, groups) == 1);
    ERR_clear_error();
    return ok;
}
