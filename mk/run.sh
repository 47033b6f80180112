#!/bin/sh
# mk/run.sh: `make run`: start portero in the foreground on an embedded
# default, with everything it needs generated once under ./run/.
#
# Copyright (c) 2026 The portero authors
#
# Permission to use, copy, modify, and distribute this software for any
# purpose with or without fee is hereby granted, provided that the above
# copyright notice and this permission notice appear in all copies.
#
# THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHORS DISCLAIM ALL WARRANTIES
# WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
# MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHORS BE LIABLE FOR
# ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
# WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
# ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
# OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.

set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir="$top/run"
certs="$dir/certs"
mkdir -p "$certs/localhost"

if [ ! -s "$certs/localhost/cert.pem" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -days 365 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost \
	    -keyout "$certs/localhost/privkey.pem" \
	    -out "$certs/localhost/cert.pem" 2>/dev/null
	echo "generated a self-signed certificate for localhost in $certs"
fi

# The registration API's shared secret and token key, made once, kept
# where only root (or you) can read them.
for f in register.secret jwt.key; do
	if [ ! -s "$dir/$f" ]; then
		(umask 077 && openssl rand -hex 32 > "$dir/$f")
		echo "generated $dir/$f"
	fi
done

user_args=""
if [ "$(id -u)" -eq 0 ]; then
	# The children run as _portero: the certloader must read the keys.
	# portero makes the state and chroot directories itself.
	chown -R root:_portero "$certs"
	chmod -R u=rwX,g=rX,o= "$certs"
	user_args="--user _portero"
fi

# The configuration: written once, then the operator's to edit (a
# reload reads it again).
conf="$dir/portero.conf"
if [ ! -s "$conf" ]; then
	cat > "$conf" <<CONF
# portero.conf for "make run"; see portero.conf(5).  Edit it, then
# $top/porterod-ctl/porterod-ctl -s $dir/portero.sock reload
listen on 127.0.0.1 port 8443 tls
register-addr "127.0.0.1:18080"
tls-cert-dir "$certs"
state-dir "$dir/state"
chroot-dir "$dir/empty"
control-socket "$dir/portero.sock"
register-secret-file "$dir/register.secret"
jwt-hmac-key-file "$dir/jwt.key"

# A backend of your own, served as https://localhost:8443/:
#pool "app" { backend 127.0.0.1 port 3000 }
#server "localhost" { forward to "app" }
CONF
	echo "generated $conf"
fi

cat <<MSG
starting portero in the foreground (Ctrl-C stops it)
  config:    $conf
  listener:  https://localhost:8443/ (self-signed certificate in $certs)
  backends:  none yet; add a pool and a server to $conf and reload
  register:  http://127.0.0.1:18080/register, secret in $dir/register.secret,
             token key in $dir/jwt.key; see porterod-ctl(8) "register"
  control:   $top/porterod-ctl/porterod-ctl -s $dir/portero.sock show status
MSG

exec "$top/portero/portero" -d -f "$conf" $user_args ${PORTERO_FLAGS:-}
