"""The shared test helpers: S3 servers (moto, s3rver), caikit state, pack variants, injection
subprocesses, the Ray den."""
