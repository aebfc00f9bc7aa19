"""Fixtures for the CLI tests, shared with the package's own test folders: the injection tests' (a den
holding the tiny pack, an empty working directory, the guard that every injection is undone), the
linker tests' (a tiny BERT, the toy concepts) and the den tests' S3 servers (moto, s3rver)."""

from tests.den.conftest import s3_server, s3_url, s3rver
from tests.injection.conftest import den, no_injection_leak, tiny_in_den, work_dir
from tests.linking.conftest import concepts_csv, tiny_bert_dir, toy_test, toy_train

__all__ = ["concepts_csv", "den", "no_injection_leak", "s3_server", "s3_url", "s3rver", "tiny_bert_dir",
           "tiny_in_den", "toy_test", "toy_train", "work_dir"]
