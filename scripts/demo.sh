#!/usr/bin/env bash
# make demo: the quickstart experiment end to end on the local AWS Batch, through the same verbs a user
# runs against AWS: --create, -b, -u, --sync-to-s3, -r --code --wait, --results. A second run reuses
# what exists (nothing rebuilt, registered or uploaded again) and submits one new job.
set -euo pipefail
[[ "${BATCHDEPLOY_DEBUG:-}" == 1 ]] && set -x

# shellcheck source=scripts/example-common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/example-common.sh"
experiment=${DEMO_EXPERIMENT:-linear}

example_up quickstart "local stack: moto server, registry, container engine"
bucket=$(sed -n 's/^S3_BUCKET=//p' .aws_env)

# No one-time account set-up: --create makes the roles the example's files name (PREFIX-batch-service,
# PREFIX-ecs-instance, PREFIX-job, PREFIX-execution) and takes the network from the default VPC.
step "--create: roles, bucket, compute environment, job queue"
"${deploy[@]}" --create --yes
step "-b: build and push the image"
"${deploy[@]}" -b
step "-u: register the job definition"
"${deploy[@]}" -u
step "--sync-to-s3: the experiment files"
"${deploy[@]}" --sync-to-s3

run_name="demo-$experiment"
results_key="demo/$experiment"
# --code: the experiment code goes as a code bundle (CODE_DIR=experiment in .aws_env) that the launcher
# in the image unpacks and runs, so an edit of experiment/run.py needs no -b or -u.
step "-r $run_name --code --wait: send the code, submit, follow, exit by the outcome"
status=0
"${deploy[@]}" -r "$run_name" \
  "experiment_file=s3://$bucket/experiments/$experiment.yaml" \
  "output_path=s3://$bucket/results/$results_key" \
  --wait --output json --code >"$example/.batchdeploy/demo-run.json" || status=$?

# A sweep: one task per combination, 4 tasks as one array job on one manifest, each task with its own
# output under results/RUN_ID/TASK/; --wait follows them with one DescribeJobs per poll.
sweep_name="demo-sweep"
step "-r $sweep_name --grid seed=1,2 learning_rate=0.05,0.02 --code --wait: a sweep of 4 tasks"
sweep_status=0
"${deploy[@]}" -r "$sweep_name" --grid seed=1,2 learning_rate=0.05,0.02 \
  "experiment_file=s3://$bucket/experiments/$experiment.yaml" \
  --code --wait --output json >"$example/.batchdeploy/demo-sweep.json" || sweep_status=$?
run_id=$(sed -n 's/.*"run_id": "\([^"]*\)".*/\1/p' "$example/.batchdeploy/demo-sweep.json" | head -n 1)
if [[ -n "$run_id" ]]; then
  step "--status $run_id: the sweep's tasks"
  "${deploy[@]}" --status "$run_id" || sweep_status=$((sweep_status ? sweep_status : $?))
else
  (( sweep_status )) || sweep_status=1  # no run id: the sweep was not submitted
fi
(( status )) || status=$sweep_status

step "--results: the results"
"${deploy[@]}" --results

report=""
if [[ -n "$run_id" ]]; then
  step "--report $run_id: the sweep's tasks, metrics and plots as one HTML file"
  report="$example/.batchdeploy/reports/demo-sweep.html"
  "${deploy[@]}" --report "$run_id" --out "$report" || { report=""; status=$((status ? status : 1)); }
fi

job_id=$(sed -n 's/.*"job_id": "\([^"]*\)".*/\1/p' "$example/.batchdeploy/demo-run.json" | head -n 1)
job_status=$(sed -n 's/.*"status": "\([A-Z]*\)".*/\1/p' "$example/.batchdeploy/demo-run.json" | tail -n 1)
printf '\ndemo: sweep %s (%s) exit %s; --status %s shows its tasks\n' "$sweep_name" "${run_id:-?}" "$sweep_status" \
  "${run_id:-?}"
printf 'demo: job %s (%s) %s; results in %s\n' "$run_name" "${job_id:-?}" "${job_status:-UNKNOWN}" \
  "$example/results/$results_key"
[[ -z "$report" ]] || printf 'demo: report of the sweep: %s\n' "$report"
exit "$status"
