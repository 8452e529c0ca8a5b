"""sync-to-s3 / sync-from-s3: make one side hold exactly the other side's files, judged by content.

A file is copied when its size or its content differs from the other side's; time stamps are never
trusted (aws s3 sync skips a same-size edit with an older mtime). The comparison needs no download:
- every object batchdeploy uploads carries its sha256 in metadata (x-amz-meta-sha256);
- the local hash cache (hashcache.py) also records the ETag a file will get, so an unchanged file is
  recognised from the listing alone (ETag = MD5 for single-part objects, MD5 of the 8 MiB part MD5s
  for multipart ones: aws-cli's layout too), and ETags already seen map to their sha256;
- an object with an ETag never seen and a different one from ours is copied when small (as cheap as
  asking), and asked about with one HEAD when large: its x-amz-meta-sha256 decides; without it, it is
  copied, after which the ETag is known and the next run converges.

A no-change sync therefore costs one ListObjectsV2 per 1,000 keys and a stat of each local file.
Transfers run on a bounded pool; files from 8 MiB up go through s3transfer's manager (multipart,
each part SHA256-checked by S3, an interrupted upload aborted). Every upload is checked (S3 verifies
ChecksumSHA256, and the returned ETag must be the MD5 we computed); every download goes to a
temporary file in the target folder, is checked against the sha256 (or MD5 ETag) and size, and only
then renamed into place. Deletions (--delete) come last and only when every transfer succeeded.
Nothing is left behind by a fault or a kill: see `multipart` (open uploads) and `scan` (temporary files).

The modules, one concern each (the verbs' entry points are in `verb`):

    verb        options from flags and configuration (SyncOptions), to_s3 / from_s3
    run         one sync from start to end: both sides, the plan, the transfers, the summary
    scan        the local walk and hashing          remote      the listing (and its lean parser)
    exclude     --exclude patterns, safe keys       plan        pure: what to copy, ask about, delete
    hashcache   hashes and ETags kept between runs  client      the S3 clients and transfer manager
    transfer    the pool that runs uploads/downloads, and what a failure does to the run
    upload      one file up                         download    one file down
    delete      --delete on either side             verify      is what arrived what was meant
    multipart   the journal and sweeps that leave no multipart upload open
    answers     what the transfer manager's own requests answered (no HEAD per large file)
    subscribers s3transfer subscribers (known size and ETag, progress)
    progress    the terminal's progress line        report      summary lines and --output json
    calls       the error edge of every S3 call made here
"""
