#!/bin/sh
# usage: sh spec/tls/mkcerts.sh DIR
# The specs' certificates, made at test time with the openssl tool, EC
# P-256: a CA (ca.pem), a leaf for localhost with SANs DNS:localhost,
# IP:127.0.0.1, IP:::1 (leaf.pem, leaf.key; leaf-enc.key is the same key
# under the password "secret"), a leaf for "alt.test" (alt.pem/alt.key,
# the SNI spec's second name), an expired leaf (expired.pem/.key), a
# leaf from a CA nobody trusts (rogue.pem/.key) and a client certificate
# (client.pem/.key, CN=spec-client).
set -e
d=$1
mkdir -p "$d"
cd "$d"
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 30 -subj "/CN=netsock spec CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -x509 $ec -keyout rogue-ca.key -out rogue-ca.pem -days 30 -subj "/CN=rogue CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# leaf NAME CAFILE CAKEY SANS [EKU]
leaf() {
  openssl req $ec -keyout "$1.key" -out "$1.csr" -subj "/CN=$4" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=%s\n' "$5" "${6:-serverAuth}" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2" -CAkey "$3" -CAcreateserial -days 30 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
leaf leaf ca.pem ca.key localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
leaf alt ca.pem ca.key alt.test "DNS:alt.test"
leaf rogue rogue-ca.pem rogue-ca.key localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
leaf client ca.pem ca.key spec-client "DNS:spec-client" clientAuth
openssl pkey -in leaf.key -out leaf-enc.key -aes256 -passout pass:secret 2>/dev/null

# expired: openssl ca signs with dates in the past
mkdir -p caroot
: > caroot/index.txt
echo 1000 > caroot/serial
cat > ca.cnf <<CNF
[ca]
default_ca = spec
[spec]
dir = caroot
database = caroot/index.txt
serial = caroot/serial
new_certs_dir = caroot
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = anything
copy_extensions = none
x509_extensions = ext
[anything]
commonName = supplied
[ext]
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
basicConstraints = CA:FALSE
CNF
openssl req $ec -keyout expired.key -out expired.csr -subj "/CN=localhost" 2>/dev/null
openssl ca -batch -config ca.cnf -startdate 20200101000000Z -enddate 20200201000000Z \
  -in expired.csr -out expired.pem -notext 2>/dev/null
rm -f expired.csr
cat leaf.pem ca.pem > chain.pem
echo ok
