#!/usr/bin/env bash
# Make onechain's namespace and the search attributes its cases set, on a Temporal cluster
# (or the dev server). Safe to run again: what exists already is left as it is.
#
#   TEMPORAL_ADDRESS=temporal.gov.internal:7233 TEMPORAL_TLS_CERT=... TEMPORAL_TLS_KEY=... \
#       deploy/temporal/setup-namespace.sh onechain
#
# Retention: closed cases stay readable in Temporal for RETENTION (default 90 days; the
# read model and the audit trail keep them for good). The search attributes below are
# checked against workflows/search_attributes.py by tests/test_temporal_setup.py.
set -euo pipefail
NAMESPACE="${1:-onechain}"
RETENTION="${RETENTION:-90d}"
TEMPORAL="${TEMPORAL_CLI:-temporal}"

if ! "$TEMPORAL" operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
    "$TEMPORAL" operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION" \
        --description "onechain 一链办理 cases"
fi

# A new namespace reaches every frontend's cache within seconds: wait for it (up to 2 min).
for _ in $(seq 120); do
    "$TEMPORAL" operator search-attribute list --namespace "$NAMESPACE" >/dev/null 2>&1 && break
    sleep 1
done

attribute() {  # attribute NAME TYPE
    if ! "$TEMPORAL" operator search-attribute list --namespace "$NAMESPACE" | grep -qw "$1"; then
        "$TEMPORAL" operator search-attribute create --namespace "$NAMESPACE" --name "$1" --type "$2"
    fi
}
# BEGIN search attributes (workflows/search_attributes.py)
attribute OcChain Keyword
attribute OcStatus Keyword
attribute OcStage Keyword
attribute OcOpenDepartments KeywordList
attribute OcNextDue Datetime
attribute OcWarning Keyword
# END search attributes

# On a cluster with archival configured (production.yaml), keep closed histories beyond
# retention (the dev server has no archival: skipped there).
if [[ -n "${ARCHIVAL_URI:-}" ]]; then
    "$TEMPORAL" operator namespace update --namespace "$NAMESPACE" \
        --history-archival-state enabled --history-uri "$ARCHIVAL_URI" \
        --visibility-archival-state enabled --visibility-uri "$ARCHIVAL_URI"
fi
echo "namespace $NAMESPACE ready (retention $RETENTION)"
