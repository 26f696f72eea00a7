#!/bin/sh
# Prepares the namespace Dialtone runs in, once the Temporal server answers:
#   1. creates the namespace when it does not exist (the plain server image creates none);
#   2. registers Dialtone's custom search attributes (DIALTONE_SEARCH_ATTRIBUTES, "Name:Type" words).
# Idempotent: an existing namespace is kept, and an attribute that is already registered with the same
# type counts as done, whatever the server's wording for "already exists".
set -eu

ADDRESS=${TEMPORAL_ADDRESS:-temporal:7233}
NAMESPACE=${TEMPORAL_NAMESPACE:-default}
RETENTION=${TEMPORAL_NAMESPACE_RETENTION:-720h}
: "${DIALTONE_SEARCH_ATTRIBUTES:?DIALTONE_SEARCH_ATTRIBUTES must list Name:Type pairs}"

# retry <what> <command...>: the frontend can accept connections before the namespace registry or the
# search-attribute cache have caught up, so each step gets a minute or two.
retry() {
  what=$1
  shift
  attempt=1
  until "$@"; do
    if [ "$attempt" -ge 60 ]; then
      echo "init-namespace: gave up: $what" >&2
      return 1
    fi
    attempt=$((attempt + 1))
    sleep 2
  done
}

namespace_ready() {
  temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1 \
    || temporal operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
}

# True when the namespace lists the attribute with the wanted type (table or JSON output alike).
attribute_listed() {
  temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" 2>/dev/null \
    | grep -i "$1" | grep -qi "$2"
}

attribute_ready() {
  attribute_listed "$1" "$2" \
    || temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" --name "$1" --type "$2" \
    || attribute_listed "$1" "$2"
}

retry "Temporal at $ADDRESS is not healthy" temporal operator cluster health --address "$ADDRESS"
retry "namespace $NAMESPACE" namespace_ready
echo "init-namespace: namespace $NAMESPACE ready"

for pair in $DIALTONE_SEARCH_ATTRIBUTES; do
  name=${pair%%:*}
  type=${pair#*:}
  retry "search attribute $name ($type)" attribute_ready "$name" "$type"
  echo "init-namespace: search attribute $name ($type) registered"
done
echo "init-namespace: done"
