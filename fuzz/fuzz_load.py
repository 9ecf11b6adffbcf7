"""Atheris harness for long local fuzzing runs of the loader and the converters (issue 8).

CI runs the bounded Hypothesis tests instead (``tests/test_fuzz_*.py``); this is for hours::

    pip install atheris
    mkdir -p /tmp/corpus
    python fuzz/fuzz_load.py -max_total_time=3600 -dict=fuzz/yaml.dict \
        /tmp/corpus testdata/fuzz-corpus

Every input must load to objects or be refused with an InputError, and the objects must
convert (schema check, converter, compiler, emitter; the self-check with ``FUZZ_VERIFY=1``)
or be refused the same way. Anything else is a crash: atheris writes the input to
``crash-*``; minimize it (``-minimize_crash=1``), add it to ``testdata/fuzz-corpus/``
(``loader-*`` when the loader is at fault) and fix the bug.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports():
    from meshmigrate.errors import MeshMigrateError
    from meshmigrate.limits import Limits
    from meshmigrate.pipeline import ConvertOptions, convert_documents
    from meshmigrate.registry import converters
    from meshmigrate.sources import parse_stream

    converters()  # load (and so instrument) every installed converter

#: Small limits: the fuzzer explores more inputs per second and still reaches every limit.
LIMITS = Limits(max_file_bytes=1 << 20, max_scalar_bytes=1 << 14, max_depth=30,
                max_alias_bytes=1 << 16, max_objects=200)
OPTIONS = ConvertOptions(verify=os.environ.get("FUZZ_VERIFY") == "1")


def test_one_input(data: bytes) -> None:
    try:
        docs = list(parse_stream(data, "fuzz.yaml", LIMITS))
        if docs:
            convert_documents(docs, OPTIONS)
    except MeshMigrateError:
        return


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
