"""Python functions on AWS Batch (issue #19): a call pickled here (payload.py), run by the launcher's
function mode in the job's container (batchdeploy.launch.function), and its result read back
(results.py). The contract between the two sides is batchdeploy.launch.calls."""
