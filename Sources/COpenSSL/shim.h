#ifndef PARTNERLINE_COPENSSL_SHIM_H
#define PARTNERLINE_COPENSSL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/rand.h>
#include <openssl/kdf.h>

// Swift cannot import function-like macros; these static inline wrappers expose
// the few that Partnerline needs.

#endif
