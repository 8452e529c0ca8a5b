#!/usr/bin/env bash
# make triage-package: the real triage (PyPI, 6.0.0) runs a real triage experiment file as an AWS Batch
# job on the local stack, against the local PostgreSQL (the example's .aws_env says LOCAL_POSTGRES=yes).
# The verbs a triage user runs against AWS: --create, -b (triage into an image), -u (DATABASE_URL into
# SSM, the job definition referencing it), the source tables loaded with psql, -r --wait, and triage's
# own tables read back with psql.
set -euo pipefail
[[ "${BATCHDEPLOY_DEBUG:-}" == 1 ]] && set -x

# shellcheck source=scripts/example-common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/example-common.sh"

example_up triage-package "local stack with PostgreSQL: moto server, registry, container engine, database"
# triage gets a database of its own, named after the project and made once: its schemas (results,
# features, ...) would otherwise meet other projects' in the stack's shared database.
db=$(sed -n 's/^PROJECT_NAME=//p' .aws_env)
[[ "$(psql -X -At -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" == 1 ]] \
  || psql -X -q -d postgres -c "CREATE DATABASE \"$db\""
export PGDATABASE=$db
# triage's DATABASE_URL, from the stack's keys; SECRETS=DATABASE_URL sends it to the job by reference.
# Kept in the environment only (no file, no command line, no trace line); the password is URL-quoted.
# shellcheck disable=SC2317  # run through untraced
database_url() {
  BATCHDEPLOY_DATABASE_URL=$("$py" -c 'import os, urllib.parse; e = os.environ; q = urllib.parse.quote
print("postgresql://%s:%s@%s:%s/%s" % (q(e["PGUSER"], safe=""), q(e["BATCHDEPLOY_POSTGRES_PASSWORD"], safe=""),
                                       e["PGHOST"], e["PGPORT"], q(e["PGDATABASE"], safe="")))')
  export BATCHDEPLOY_DATABASE_URL
}
untraced database_url

# pip inside the build reaches pypi.org; behind a TLS-intercepting proxy it needs the host's CA bundle
# (pip-ca/ is used by the build stage only and is git-ignored). Without one, pip uses its own.
ca=${BATCHDEPLOY_PIP_CA:-/etc/ssl/certs/ca-certificates.crt}
if [[ -s "$ca" ]]; then
  cmp -s "$ca" pip-ca/ca-certificates.crt || cp "$ca" pip-ca/ca-certificates.crt
fi

step "--create: roles, bucket, compute environment, job queue"
"${deploy[@]}" --create --yes
step "-b: build and push the image (triage 6.0.0 from PyPI; the first build takes minutes)"
"${deploy[@]}" -b
step "-u: DATABASE_URL into SSM, the job definition referencing it"
"${deploy[@]}" -u

step "data.sql: the experiment's source tables (events, complaints) into PostgreSQL"
psql -X -q -v ON_ERROR_STOP=1 -f data.sql
step "-r triage --wait: triage experiment experiment.yaml, in a Batch job"
status=0
"${deploy[@]}" -r triage --wait || status=$?

step "triage's own tables, read with psql"
psql -X -P pager=off -c "SELECT id, run_hash, current_status, start_time::timestamp(0), triage_version,
  matrices_made, models_made, models_errored FROM triage_metadata.triage_runs ORDER BY id DESC LIMIT 1"
psql -X -P pager=off -c "SELECT e.model_id, m.model_type, e.evaluation_start_time::date AS as_of, e.metric,
  e.parameter, round(e.stochastic_value::numeric, 3) AS value
  FROM test_results.evaluations e JOIN triage_metadata.models m USING (model_id)
  ORDER BY e.model_id DESC, e.evaluation_start_time, e.metric, e.parameter LIMIT 8"
printf '\ntriage-package: triage wrote its results into PostgreSQL (%s)\n' \
  "psql after: source <(scripts/local-stack.sh env)"
exit "$status"
