#!/usr/bin/env bash
# Print what a running peer answers to the cases in interop/README.md's
# "Observed" table:  interop/observe.sh [BASE_URL]   (default http://127.0.0.1:18931/)
# Needs curl and python3. Creates tokens for alice; changes no other state.
set -euo pipefail
BASE="${1:-http://127.0.0.1:18931/}"; BASE="${BASE%/}"
USER_NAME="${PEER_OBSERVE_USER:-alice}"; PASS="${PEER_OBSERVE_PASSWORD:-correct horse battery}"
J='Content-Type: application/json'
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT

# show LABEL curl-args... : one line "LABEL | status | body"
show() {
  local label="$1"; shift
  local out code body
  out="$(curl -sS -o "$T/body" -w '%{http_code}' "$@")"
  code="$out"; body="$(cat "$T/body")"
  printf '%s | %s | %s\n' "$label" "$code" "$body"
}
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
login() { curl -sS -H "$J" -d "{\"username\":\"$USER_NAME\",\"password\":\"$PASS\"}" "$BASE/api/token/"; }

show "obtain: good creds" -H "$J" -d "{\"username\":\"$USER_NAME\",\"password\":\"$PASS\"}" "$BASE/api/token/" | sed -E 's/"(refresh|access)":"[^"]+"/"\1":"<jwt>"/g'
show "obtain: wrong password" -H "$J" -d "{\"username\":\"$USER_NAME\",\"password\":\"nope\"}" "$BASE/api/token/"
show "obtain: unknown user" -H "$J" -d '{"username":"mallory","password":"nope"}' "$BASE/api/token/"
show "obtain: missing password" -H "$J" -d "{\"username\":\"$USER_NAME\"}" "$BASE/api/token/"
show "obtain: empty object" -H "$J" -d '{}' "$BASE/api/token/"
show "obtain: blank username" -H "$J" -d '{"username":"","password":"x"}' "$BASE/api/token/"
show "obtain: username not a string" -H "$J" -d '{"username":["a"],"password":"x"}' "$BASE/api/token/"
show "obtain: invalid JSON" -H "$J" -d '{"username":' "$BASE/api/token/"
show "obtain: form-encoded good" --data-urlencode "username=$USER_NAME" --data-urlencode "password=$PASS" "$BASE/api/token/" | sed -E 's/"(refresh|access)":"[^"]+"/"\1":"<jwt>"/g'
show "obtain: GET" "$BASE/api/token/"
show "obtain: text/plain" -H 'Content-Type: text/plain' -d 'hello' "$BASE/api/token/"

pair="$(login)"; R0="$(field refresh <<<"$pair")"; A0="$(field access <<<"$pair")"
printf 'claims of access | - | %s\n' "$(python3 - "$A0" <<'PY'
import base64, json, sys
p = sys.argv[1].split(".")[1]; p += "=" * (-len(p) % 4)
c = json.loads(base64.urlsafe_b64decode(p)); print(json.dumps({k: (type(v).__name__ if k in ("exp","iat","jti") else v) for k, v in c.items()}))
PY
)"
out="$(curl -sS -H "$J" -d "{\"refresh\":\"$R0\"}" -w '\n%{http_code}' "$BASE/api/token/refresh/")"
printf 'refresh: good | %s | %s\n' "$(tail -n1 <<<"$out")" "$(head -n1 <<<"$out" | sed -E 's/"(refresh|access)":"[^"]+"/"\1":"<jwt>"/g')"
R1="$(head -n1 <<<"$out" | field refresh)"; A1="$(head -n1 <<<"$out" | field access)"
show "refresh: reuse rotated-away token" -H "$J" -d "{\"refresh\":\"$R0\"}" "$BASE/api/token/refresh/"
show "refresh: access token given" -H "$J" -d "{\"refresh\":\"$A1\"}" "$BASE/api/token/refresh/"
show "refresh: garbage" -H "$J" -d '{"refresh":"garbage"}' "$BASE/api/token/refresh/"
show "verify: good access" -H "$J" -d "{\"token\":\"$A1\"}" "$BASE/api/token/verify/"
show "verify: good refresh" -H "$J" -d "{\"token\":\"$R1\"}" "$BASE/api/token/verify/"
show "verify: garbage" -H "$J" -d '{"token":"garbage"}' "$BASE/api/token/verify/"
show "verify: blacklisted refresh" -H "$J" -d "{\"token\":\"$R0\"}" "$BASE/api/token/verify/"
show "verify: old access after rotation" -H "$J" -d "{\"token\":\"$A0\"}" "$BASE/api/token/verify/"
show "blacklist: good" -H "$J" -d "{\"refresh\":\"$R1\"}" "$BASE/api/token/blacklist/"
show "blacklist: again" -H "$J" -d "{\"refresh\":\"$R1\"}" "$BASE/api/token/blacklist/"
show "refresh: blacklisted token" -H "$J" -d "{\"refresh\":\"$R1\"}" "$BASE/api/token/refresh/"
show "me: access after blacklist" -H "Authorization: Bearer $A1" "$BASE/api/me/"
show "me: no header" -D "$T/headers" "$BASE/api/me/"
printf 'me: no header, WWW-Authenticate | - | %s\n' "$(grep -i '^www-authenticate' "$T/headers" | tr -d '\r')"
show "me: Bearer alone" -H "Authorization: Bearer" "$BASE/api/me/"
show "me: three parts" -H "Authorization: Bearer a b" "$BASE/api/me/"
show "me: bad token" -H "Authorization: Bearer garbage" "$BASE/api/me/"
show "me: refresh token as Bearer" -H "Authorization: Bearer $R1" "$BASE/api/me/"
show "me: good (Bearer)" -H "Authorization: Bearer $A0" "$BASE/api/me/"
show "me: good (JWT)" -H "Authorization: JWT $A0" "$BASE/api/me/"
show "me: unknown scheme" -H "Authorization: Token $A0" "$BASE/api/me/"
sl="$(curl -sS -H "$J" -d "{\"username\":\"$USER_NAME\",\"password\":\"$PASS\"}" "$BASE/api/token/sliding/")"
printf 'sliding: obtain | - | %s\n' "$(sed -E 's/"token":"[^"]+"/"token":"<jwt>"/' <<<"$sl")"
S="$(field token <<<"$sl")"
show "sliding: refresh" -H "$J" -d "{\"token\":\"$S\"}" "$BASE/api/token/sliding/refresh/" | sed -E 's/"token":"[^"]+"/"token":"<jwt>"/'
show "hello" "$BASE/api/hello/"

# N parallel refreshes of one fresh refresh token.
N="${PEER_OBSERVE_PARALLEL:-8}"; ROUNDS="${PEER_OBSERVE_ROUNDS:-5}"
for round in $(seq 1 "$ROUNDS"); do
  R="$(login | field refresh)"
  for _ in $(seq 1 "$N"); do
    curl -sS -o /dev/null -w '%{http_code}\n' -H "$J" -d "{\"refresh\":\"$R\"}" "$BASE/api/token/refresh/" &
  done >"$T/par"
  wait
  printf 'parallel refresh x%s, round %s | %s\n' "$N" "$round" "$(sort "$T/par" | uniq -c | awk '{printf "%s×%s ", $1, $2}')"
done
