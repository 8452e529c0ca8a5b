"""`-b`: build the images and push them to AWS_REGISTRY, content-addressed.

One module per step: `spec` (what was asked: IMAGES, BUILD_ARGS, --image, --force), `ignore` and
`context` (the content tag: the build context as the engine sees it, hashed), `registry` (where
images go, and the HTTP API look-up), `ecr` (ECR's look-up, repository and login calls), `remote`
(look-ups, logins and pushes of one run), `pipeline` (one image: decide, build, push) and `verb`
(the wiring, and what is recorded in the state). The container engine is batchdeploy.engine,
shared with the local stack.

Built only on the shared modules (batchdeploy.aws, config, errors, secrets, state, ui, engine); nothing
here imports another capability. Importing this package imports none of its modules.
"""
