"""Schema fuzzing: schemathesis generates requests from the OpenAPI schema against a live
server (`qa serve`'s stack over the fake embedder) and runs every check it has; counts the
requests, their 5xx answers and the schema findings.

    python scripts/campaigns/campaign_fuzz.py    # 500 examples per operation (~2,500 cases)
    python scripts/campaigns/campaign_fuzz.py --max-examples 1000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from campaign_common import campaign_folder, fake_server, write_archive

TOKEN = "fuzz-token"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=500, help="per API operation")
    parser.add_argument("--seed", type=int, default=10)
    options = parser.parse_args()
    with campaign_folder("qa-fuzz-") as work:
        corpus = work / "corpus"
        write_archive(corpus, 12)
        (corpus / "minutes\nof the assembly.txt").write_text(
            "The assembly met in Lima on 10 December.", encoding="utf-8"
        )
        with fake_server(corpus, work / "index", TOKEN) as server:
            schemathesis = Path(sys.executable).with_name("schemathesis")
            command = [
                str(schemathesis),
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                str(options.max_examples),
                "--seed",
                str(options.seed),
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--report",
                "json,har",
                "--report-dir",
                str(work / "report"),
            ]
            # schemathesis keeps its state (.hypothesis/) in the folder it runs in.
            done = subprocess.run(command, capture_output=True, text=True, cwd=work)
        report = json.loads(next((work / "report").glob("json-*.json")).read_text())
        har = json.loads(next((work / "report").glob("har-*.json")).read_text())
        statuses = Counter(entry["response"]["status"] for entry in har["log"]["entries"])
        documents = sum(
            1
            for entry in har["log"]["entries"]
            if "/api/documents/" in entry["request"]["url"] and entry["response"]["status"] == 200
        )
        server_errors = sum(count for status, count in statuses.items() if status >= 500)
        findings = report["test_cases"]["unique_failures"]
        print(
            f"schemathesis (every check): {report['test_cases']['generated']} test cases "
            f"generated, {sum(statuses.values())} requests sent; 5xx answers: {server_errors} "
            f"(target 0); schema findings: {findings} (target 0); documents reached by id: "
            f"{documents}; exit code {done.returncode}"
        )
        print(f"statuses: {dict(sorted(statuses.items()))}")
        if findings or done.returncode:
            print(done.stdout[-6000:])


if __name__ == "__main__":
    main()
