// OpenSSL macros Swift cannot call (see CShims.h).
#include "CShims.h"

#include <string.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

void CShims_SSL_CTX_set_server_defaults(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE
                             | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_SINGLE_ECDH_USE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    // One read(2) for as many records as the socket holds, instead of one
    // for each record's 5-byte header and one for its body. The callers
    // read until OpenSSL reports EAGAIN, so bytes it holds are never left
    // waiting for an epoll edge.
    SSL_CTX_set_read_ahead(ctx, 1);
}

int CShims_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

int CShims_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}

int CShims_SSL_tickets_enabled(const SSL *ssl) {
    return (SSL_get_options(ssl) & SSL_OP_NO_TICKET) == 0;
}

void CShims_SSL_CTX_set_external_session_cache(SSL_CTX *ctx, int enabled) {
    SSL_CTX_set_session_cache_mode(ctx, enabled ? SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL : SSL_SESS_CACHE_OFF);
}

int CShims_ticket_cipher_init(const unsigned char *aes, const unsigned char *hmac, int key_length, unsigned char *iv,
                              EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac, int encrypt) {
    const EVP_CIPHER *aes_cbc = key_length == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)hmac, (size_t)key_length);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (encrypt) {
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes_cbc)) != 1) return -1;
        if (EVP_EncryptInit_ex(cipher, aes_cbc, NULL, aes, iv) != 1) return -1;
    } else if (EVP_DecryptInit_ex(cipher, aes_cbc, NULL, aes, iv) != 1) {
        return -1;
    }
    return EVP_MAC_CTX_set_params(mac, params) == 1 ? 1 : -1;
}

void CShims_SSL_CTX_set_tlsext_servername_callback(SSL_CTX *ctx, int (*callback)(SSL *, int *, void *), void *arg) {
    SSL_CTX_set_tlsext_servername_callback(ctx, callback);
    SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}

static int append_name(char *out, int at, int capacity, const char *name, int length) {
    if (length <= 0 || at + length + 1 > capacity) return at;
    memcpy(out + at, name, (size_t)length);
    out[at + length] = '\n';
    return at + length + 1;
}

int CShims_X509_dns_names(X509 *cert, char *out, int capacity) {
    int at = 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
            const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
            if (name->type != GEN_DNS) continue;
            const ASN1_IA5STRING *dns = name->d.dNSName;
            at = append_name(out, at, capacity, (const char *)ASN1_STRING_get0_data(dns), ASN1_STRING_length(dns));
        }
        GENERAL_NAMES_free(names);
    }
    if (at == 0) {
        X509_NAME *subject = X509_get_subject_name(cert);
        int index = -1;
        while ((index = X509_NAME_get_index_by_NID(subject, NID_commonName, index)) >= 0) {
            ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
            at = append_name(out, at, capacity, (const char *)ASN1_STRING_get0_data(cn), ASN1_STRING_length(cn));
        }
    }
    return at;
}

int CShims_SSL_select_alpn(const unsigned char **out, unsigned char *outlen, const unsigned char *server,
                           unsigned int serverlen, const unsigned char *client, unsigned int clientlen) {
    unsigned char *selected = NULL;
    int result = SSL_select_next_proto(&selected, outlen, server, serverlen, client, clientlen);
    if (result != OPENSSL_NPN_NEGOTIATED) return 0;
    *out = selected;
    return 1;
}

void CShims_SSL_CTX_set_client_defaults(SSL_CTX *ctx, int tickets) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF
                             | (tickets ? 0 : SSL_OP_NO_TICKET));
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    // Sessions are kept by the caller (the new-session callback), not in
    // OpenSSL's cache: one per server, offered again on the next connect.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
}

int CShims_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
