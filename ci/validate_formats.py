"""Checks ipc-conform's machine formats with real consumers.

usage: validate_formats.py RESULTS.json KCIDB.json JUNIT.xml KTAP_PARSE_OUTPUT.txt
RESULTS.json is `run --format json` of the same run: the counts every format must agree with.
"""
import json
import sys

import junitparser
import kcidb_io


def main(results_path, kcidb_path, junit_path, ktap_parsed_path):
    results = json.load(open(results_path))["results"]
    claims = [r["claim"] for r in results]
    errors = sum(r["verdict"] == "error" for r in results)
    skipped = sum(r["verdict"] == "skipped" for r in results)

    data = json.load(open(kcidb_path))
    kcidb_io.schema.V5_3.validate(data)  # raises on any schema violation
    assert [t["path"].split(".", 1)[1] for t in data["tests"]] == claims, "KCIDB tests differ from the claims"
    print(f"kcidb: valid v{data['version']['major']}.{data['version']['minor']}, {len(data['tests'])} tests")

    xml = junitparser.JUnitXml.fromfile(junit_path)
    cases = [case for suite in xml for case in suite]
    assert [c.name for c in cases] == claims, "JUnit testcases differ from the claims"
    got_errors = sum(any(isinstance(r, junitparser.Error) for r in c.result) for c in cases)
    got_skipped = sum(any(isinstance(r, junitparser.Skipped) for r in c.result) for c in cases)
    got_failures = sum(any(isinstance(r, junitparser.Failure) for r in c.result) for c in cases)
    assert (got_errors, got_skipped, got_failures) == (errors, skipped, 0), (got_errors, got_skipped, got_failures)
    print(f"junit: parsed by junitparser, {len(cases)} testcases, {got_errors} errors, {got_skipped} skipped")

    parsed = open(ktap_parsed_path).read()
    assert "[ERROR]" not in parsed and "CRASHED" not in parsed, parsed
    assert f"Ran {len(claims)} tests" in parsed, parsed[-500:]
    print(f"ktap: parsed by the kernel's kunit.py, {len(claims)} tests")


if __name__ == "__main__":
    main(*sys.argv[1:5])
