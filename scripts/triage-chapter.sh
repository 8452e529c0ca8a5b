#!/usr/bin/env bash
# make triage-chapter: the triage chapter's whole setup on one machine. The local stack with PostgreSQL
# (the example's .aws_env says LOCAL_POSTGRES=yes), then the verbs a triage user runs against AWS:
# --create, -b, -u, --sync-to-s3, a data-loading job, the experiment job (its cohort, labels and
# features read from PostgreSQL with the POSTGRES_* overrides, the password by reference from SSM),
# --results, and the results table read back with psql.
set -euo pipefail
[[ "${BATCHDEPLOY_DEBUG:-}" == 1 ]] && set -x

# shellcheck source=scripts/example-common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/example-common.sh"

example_up triage-chapter "local stack with PostgreSQL: moto server, registry, container engine, database"
bucket=$(sed -n 's/^S3_BUCKET=//p' .aws_env)

step "--create: roles, bucket, compute environment, job queue"
"${deploy[@]}" --create --yes
step "-b: build and push the image (with a PostgreSQL driver)"
"${deploy[@]}" -b
step "-u: the password into SSM, the job definition referencing it"
"${deploy[@]}" -u
step "--sync-to-s3: the experiment files"
"${deploy[@]}" --sync-to-s3

step "-r load step=load --wait: the data-loading job fills raw.facilities and raw.inspections"
"${deploy[@]}" -r load step=load --wait
step "-r inspections --wait: cohort, labels and features from PostgreSQL; a grid of models; results back"
status=0
"${deploy[@]}" -r inspections step=experiment "experiment_file=s3://$bucket/experiments/inspections.yaml" \
  "output_path=s3://$bucket/results/inspections" --wait || status=$?

step "--results: evaluations.json and metrics.json from S3"
"${deploy[@]}" --results

step "results.models and results.evaluations, read with psql"
psql -X -P pager=off -c "SELECT m.model_id, m.model_type, m.hyperparameters::text, e.metric, round(e.value::numeric, 3) AS value
  FROM results.models m JOIN results.evaluations e USING (model_id)
  WHERE e.metric IN ('precision@10%', 'auc') ORDER BY m.model_id DESC, e.metric LIMIT 10"
# triage's four pieces, as this machine has them
queue=$(sed -n 's/^AWS_JOB_QUEUE=//p' .aws_env)
printf '\ntriage-chapter: S3 bucket   s3://%s (moto, %s)\n' "$bucket" "$AWS_ENDPOINT_URL"
printf 'triage-chapter: PostgreSQL postgresql://%s@%s:%s/%s\n' "$PGUSER" "$PGHOST" "$PGPORT" "$PGDATABASE"
printf 'triage-chapter: registry   %s/%s\n' "$AWS_REGISTRY" "$(sed -n 's/^PROJECT_NAME=//p' .aws_env)"
printf 'triage-chapter: job queue  %s\n' "$queue"
printf 'triage-chapter: results in %s and in results.models, results.evaluations (psql after: %s)\n' \
  "$example/results/inspections" "source <(scripts/local-stack.sh env)"
exit "$status"
