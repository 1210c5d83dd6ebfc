#!/usr/bin/env bash
# Makes a development CA and a server certificate signed by it, for trying Partnerline with
# verified TLS (openssl s_client -CAfile ...). Private keys stay here, untracked (.gitignore),
# and are never committed. Usage: Certs/make-dev-certs.sh [OUT_DIR] [HOSTNAME]
set -euo pipefail
out="${1:-$(dirname "$0")/dev}"
host="${2:-localhost}"
mkdir -p "$out"
umask 077

openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
  -subj "/CN=Partnerline dev CA" -keyout "$out/ca.key" -out "$out/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=$host" -keyout "$out/server.key" -out "$out/server.csr" 2>/dev/null

cat > "$out/server.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:$host,DNS:localhost,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -days 825 -extfile "$out/server.ext" -out "$out/server.crt" 2>/dev/null
cat "$out/server.crt" "$out/ca.crt" > "$out/server-chain.crt"
rm -f "$out/server.csr" "$out/server.ext" "$out/ca.srl"
chmod 644 "$out/ca.crt" "$out/server.crt" "$out/server-chain.crt"

cat <<MSG
Made in $out:
  ca.crt            the dev CA (give this to clients: openssl s_client -CAfile $out/ca.crt)
  server-chain.crt  the server certificate followed by the CA
  server.key        the server's private key (never commit it)
Use them in Config/partnerline.yaml:
  tls:
    certificate: $out/server-chain.crt
    private_key: $out/server.key
MSG
