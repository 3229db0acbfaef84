#!/usr/bin/env bash
# Roll out an environment with its migrations first:  deploy/k8s/rollout.sh dev|prod
#
# 1. delete the previous release's migrate Jobs (Jobs are immutable, and a finished one would not run again);
# 2. apply this release's migrate Jobs (same images and ConfigMap as the application) and wait until every
#    one has completed: on failure or timeout stop here, so the running release keeps serving untouched;
# 3. apply the application and wait for every Deployment to be rolled out.
# Migrations therefore run while the previous release still serves: they must be backward compatible
# (expand now, contract in a later release).
set -euo pipefail

env="${1:?usage: $0 dev|prod}"
overlay="$(cd "$(dirname "$0")" && pwd)/overlays/${env}"
migrate='app.kubernetes.io/component=migrate'
namespace="$(kubectl kustomize "${overlay}/migrations" | sed -n 's/^  namespace: //p' | head -n 1)"

kubectl delete job --namespace "${namespace}" --selector "${migrate}" --ignore-not-found --wait=true
kubectl apply --kustomize "${overlay}/migrations"
if ! kubectl wait job --namespace "${namespace}" --selector "${migrate}" --for=condition=complete --timeout=600s; then
  kubectl logs --namespace "${namespace}" --selector "${migrate}" --tail=100 --prefix || true
  echo "migrations did not complete: application NOT rolled out" >&2
  exit 1
fi
kubectl apply --kustomize "${overlay}"
kubectl rollout status deployment --namespace "${namespace}" --selector app.kubernetes.io/part-of=notify --timeout=600s
