#!/usr/bin/env bash
# A short end-to-end demonstration of tmuxguard on the shipped default policy.
#
# As root, in a throwaway prefix (/opt/tmuxguard-demo) with throwaway
# accounts (removed at the end, also on failure): builds and installs
# tmuxguard, makes the wrapper setgid to a demo gate group, lets "alice"
# serve a share, shows "bob" attaching read-only through tmuxguard-attach
# inside an outer tmux (his screen is printed), shows "eve" being refused,
# and prints the decision log.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/opt/tmuxguard-demo
BUILD="$ROOT/build-demo"
STATE=/var/lib/tmuxguard-demo.leftovers
SHARE=demo

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
    cat >&2 <<EOF
demo: this demonstration needs root, because it
  - creates three throwaway accounts (alice, bob, eve) and a gate group,
  - installs tmuxguard into $PREFIX and makes tmuxguard-attach setgid to
    that group (only root can do that),
  - runs 'tmuxguard reload', which writes the compiled policy and creates
    the runtime directories owned by the share owners.
Everything is removed again at the end. Run: sudo scripts/demo.sh
EOF
    exit 1
fi
for tool in cmake ninja g++ tmux runuser useradd setfacl pkill; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/quickstart.sh installs it)"
done

# ---------------------------------------------------------------- cleanup
TAG="tgd$(od -An -N2 -tx2 /dev/urandom | tr -d ' \n')"
GATE="$TAG-gate"
USERS=("$TAG-alice" "$TAG-bob" "$TAG-eve")
OUTER="$TAG-outer"

accounts_remove() {
    local u uid
    for u in "$@"; do
        uid=$(id -u "$u" 2>/dev/null) || continue
        pkill -KILL -U "$uid" 2>/dev/null || true
    done
    sleep 0.2
    for u in "$@"; do
        id "$u" >/dev/null 2>&1 && userdel -f -r "$u" >/dev/null 2>&1 || true
    done
}

# Removes what an earlier demo killed with SIGKILL left behind.
leftovers_remove() {
    [[ -f $STATE ]] || return 0
    local kind name
    while read -r kind name; do
        [[ $name =~ ^tgd[0-9a-f]{4}-(alice|bob|eve|gate|outer)$ ]] || continue
        case $kind in
            user) accounts_remove "$name" ;;
            group) groupdel "$name" >/dev/null 2>&1 || true ;;
            outer) tmux -L "$name" kill-server >/dev/null 2>&1 || true ;;
        esac
    done <"$STATE"
    rm -rf "$PREFIX" "$STATE"
}

cleanup() {
    set +e
    tmux -L "$OUTER" kill-server >/dev/null 2>&1
    accounts_remove "${USERS[@]}"
    groupdel "$GATE" >/dev/null 2>&1
    rm -rf "$PREFIX" "$STATE"
}

leftovers_remove
{
    printf 'group %s\nouter %s\n' "$GATE" "$OUTER"
    printf 'user %s\n' "${USERS[@]}"
} >"$STATE"
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------- helpers
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }
wait_for() {  # wait_for DESCRIPTION COMMAND...: polls for up to 10 s
    local what=$1 i
    shift
    for ((i = 0; i < 100; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "timed out waiting for $what"
}
alice_tmux() { as "$ALICE" tmux -S "$SOCKET" "$@"; }
has_client() { alice_tmux list-clients -F '#{client_uid}' | grep -qx "$1"; }

# ---------------------------------------------------------------- build and install
say "Building tmuxguard for the demo prefix $PREFIX"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DCMAKE_INSTALL_SYSCONFDIR="$PREFIX/etc" -DCMAKE_INSTALL_LOCALSTATEDIR="$PREFIX/var" \
    -DTMUXGUARD_TESTS=OFF >/dev/null
cmake --build "$BUILD" >/dev/null
cmake --install "$BUILD" >/dev/null
chown -R root:root "$PREFIX"
find "$PREFIX" -type d -exec chmod 0755 {} +
mkdir -p -m 0755 "$PREFIX/run"

say "Creating throwaway accounts and the gate group"
groupadd "$GATE"
for u in "${USERS[@]}"; do useradd -m -s /bin/sh "$u"; done
ALICE=${USERS[0]} BOB=${USERS[1]} EVE=${USERS[2]}
chgrp "$GATE" "$PREFIX/bin/tmuxguard-attach"
chmod 2755 "$PREFIX/bin/tmuxguard-attach"
echo "owner: $ALICE   viewer: $BOB   refused: $EVE   gate group: $GATE"
ls -l "$PREFIX/bin/tmuxguard-attach"

say "Policy: the shipped policy.conf plus one drop-in"
cat >"$PREFIX/etc/tmuxguard/policy.d/50-demo.conf" <<EOF
# demo: a share of $ALICE that $BOB may watch; nobody else may attach
set runtime-dir $PREFIX/run
share $SHARE owner $ALICE
permit view $BOB on $SHARE
EOF
chmod 0644 "$PREFIX/etc/tmuxguard/policy.d/50-demo.conf"
grep -v '^#' "$PREFIX/etc/tmuxguard/policy.d/50-demo.conf"
"$PREFIX/sbin/tmuxguard" check-policy
"$PREFIX/sbin/tmuxguard" reload

say "$ALICE serves the share '$SHARE' and types in it"
as "$ALICE" "$PREFIX/sbin/tmuxguard" serve "$SHARE"
SOCKET="$PREFIX/run/$(id -u "$ALICE")/$SHARE"
wait_for "alice's server" alice_tmux has-session -t "=$SHARE"
alice_tmux send-keys -t "=$SHARE:" -l 'echo "hello from alice: $((6*7))"'
alice_tmux send-keys -t "=$SHARE:" Enter
ls -l "$SOCKET"

say "$BOB attaches with tmuxguard-attach (read-only by policy), inside an outer tmux"
tmux -L "$OUTER" -f /dev/null new-session -d -s outer -x 100 -y 10 \
    "runuser -u $BOB -- $PREFIX/bin/tmuxguard-attach $SHARE"
wait_for "bob's client" has_client "$(id -u "$BOB")"
wait_for "bob's screen" sh -c "tmux -L '$OUTER' capture-pane -p -t =outer: | grep -q 'hello from alice: 42'"
tmux -L "$OUTER" send-keys -t =outer: -l 'echo bob was here'
tmux -L "$OUTER" send-keys -t =outer: Enter
echo "--- what $BOB's terminal shows:"
tmux -L "$OUTER" capture-pane -p -t =outer: |
    awk '{ line[NR] = $0 } NF { last = NR } END { for (i = 1; i <= last; i++) print line[i] }'
echo "--- clients of $ALICE's server (uid, read-only flag):"
alice_tmux list-clients -F '#{client_uid} #{client_user} read-only=#{client_readonly}'
if alice_tmux capture-pane -p -t "=$SHARE:" | grep -q 'bob was here'; then
    die "bob's keystrokes reached alice's pane"
fi
echo "(what $BOB typed did not reach $ALICE's shell)"

say "$EVE has no rule: she is refused"
set +e
as "$EVE" "$PREFIX/bin/tmuxguard-attach" "$SHARE"
echo "exit status: $?"
as "$EVE" tmux -S "$SOCKET" list-sessions
echo "direct tmux -S exit status: $? (the socket is closed to everyone but the owner and the gate)"
set -e

say "Decision log ($PREFIX/var/log/tmuxguard/decisions.log)"
cat "$PREFIX/var/log/tmuxguard/decisions.log"

say "Done; removing the demo accounts and $PREFIX"
