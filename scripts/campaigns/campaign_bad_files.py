"""Every kind of bad file we know beside good documents, indexed by the real `qa index`
(bundled model) run so that file permissions bind it; counts what is lost, aborted, named.

A first build indexes the good documents; then bad files of each kind are added, some files
and a folder of good documents lose their read permission, and a second build runs. Each
kind is expected either to be read (text in another encoding, odd but valid names and keys)
or to be skipped and named in the build report; none may stop the build, cost a good
document, or vanish without a word.

    python scripts/campaigns/campaign_bad_files.py
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from campaign_common import bound_by_permissions, campaign_folder, write_archive
from common import qa_command

from qa.core.config import Settings
from qa.index.versions import open_index

GOOD = "The assembly of unions met in Lima and called a national strike for December 15."
SPANISH = "El paro nacional reunió a campesinos y estudiantes en Perú; la señora Núñez habló."


def pdf(pages: list[str]) -> bytes:
    """A small valid PDF, one text page each (as tests/pdfs.py writes them)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * n} 0 R" for n in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for n, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R >> >> "
            f"/MediaBox [0 0 612 792] /Contents {5 + 2 * n} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [lol]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines)


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def md(front: str) -> str:
    return f"---\n{front}\n---\n{GOOD}\n"


def bad_kinds(corpus: Path, outside: Path) -> list[tuple[str, str, str]]:
    """Writes one file (or more) of each kind; returns (kind, id or path, 'read' | 'named')."""
    secret = outside / "secret.txt"
    write(secret, "root:x:0:0: the password is hunter2")
    write(outside / "folder" / "more.txt", "Secrets in a folder outside the archive.")
    kinds: list[tuple[str, str, str]] = []

    def add(kind: str, name: str, data: str | bytes, expected: str, target: str | None = None):
        write(corpus / name, data)
        kinds.append((kind, target or name, expected))

    add("front matter: impossible date", "bad/date.md", md("date: 2022-13-45"), "named")
    add("front matter: key that is a number", "bad/key.md", md("2022: annual"), "read")
    add("front matter: recursive alias", "bad/recursive.md", md("x: &a [*a]"), "named")
    add("front matter: alias bomb", "bad/bomb.md", md(alias_bomb()), "named")
    add("front matter: bad YAML", "bad/yaml.md", md("title: [unclosed"), "named")
    add("front matter: a list, not a mapping", "bad/list.md", md("- a\n- b"), "named")
    add("front matter: 5,000-digit integer", "bad/digits.md", md("n: " + "9" * 5000), "named")
    add("front matter only, no text", "bad/empty-body.md", "---\ntitle: Nothing\n---\n", "named")
    add("front matter: 30 KB title", "bad/title.md", md("title: " + "T" * 30_000), "named")
    deep = "[" * 100_000 + "]" * 100_000
    add(
        "JSONL: nested 100,000 deep",
        "bad/deep.jsonl",
        f'{{"text": "a", "x": {deep}}}\n',
        "named",
        "bad/deep.jsonl:1",
    )
    add(
        "JSONL: 5,000-digit integer",
        "bad/digits.jsonl",
        '{"text": "a", "n": ' + "9" * 5000 + "}\n",
        "named",
        "bad/digits.jsonl:1",
    )
    add("JSONL: not JSON", "bad/broken.jsonl", "{not json\n", "named", "bad/broken.jsonl:1")
    add("JSONL: an array", "bad/array.jsonl", "[1, 2]\n", "named", "bad/array.jsonl:1")
    add("JSONL: no text", "bad/notext.jsonl", '{"title": "x"}\n', "named", "bad/notext.jsonl:1")
    add(
        "JSONL: text not a string",
        "bad/number.jsonl",
        '{"text": 42}\n',
        "named",
        "bad/number.jsonl:1",
    )
    add(
        "JSONL: NaN in metadata",
        "bad/nan.jsonl",
        f'{{"text": "{GOOD}", "x": NaN}}\n',
        "read",
        "bad/nan.jsonl:1",
    )
    add("JSONL: binary file", "bad/binary.jsonl", b"\x00\x01\x02" * 100, "named")
    add(
        "JSONL: a line split by U+2028",
        "bad/separator.jsonl",
        json.dumps({"text": GOOD + "\u2028" + GOOD}, ensure_ascii=False) + "\n",
        "read",
        "bad/separator.jsonl:1",
    )
    for name, sidecar, expected in [
        ("sidecar: nested 100,000 deep", '{"x": ' + deep + "}", "named"),
        ("sidecar: not JSON", "{nope", "named"),
        ("sidecar: an array", "[1]", "named"),
        ("sidecar: nested 12 deep", json.dumps({"x": json.loads("[" * 12 + "]" * 12)}), "named"),
        ("sidecar: 30 KB", json.dumps({"notes": "n" * 30_000}), "named"),
        ("sidecar: not UTF-8", b'{"title": "Per\xfa"}', "named"),
    ]:
        stem = f"bad/sidecar-{len(kinds)}.txt"
        add(name, stem, GOOD, expected)
        write(corpus / (stem + ".meta.json"), sidecar)
    add("sidecar: link outside the corpus", "bad/linked-sidecar.txt", GOOD, "named")
    (corpus / "bad" / "linked-sidecar.txt.meta.json").symlink_to(secret)
    add("empty file", "bad/empty.txt", "", "named")
    add("only spaces", "bad/spaces.txt", "   \n\t\n", "named")
    add("binary with NUL bytes", "bad/binary.txt", b"\x00\x01binary\x00" * 50, "named")
    add("bytes no encoding explains", "bad/noise.txt", bytes(range(128, 256)) * 8, "named")
    add("Latin-1 text", "bad/latin1.txt", SPANISH.encode("latin-1"), "read")
    add("Windows-1252 text", "bad/cp1252.txt", ("“" + SPANISH + "” €").encode("cp1252"), "read")
    add("UTF-16 with BOM", "bad/utf16.txt", SPANISH.encode("utf-16"), "read")
    add("UTF-16 BOM, odd length", "bad/odd16.txt", b"\xff\xfeA\x00B", "named")
    add(
        "Latin-1 HTML",
        "bad/latin1.html",
        f"<html><body><article><p>{SPANISH}</p></article></body></html>".encode("latin-1"),
        "read",
    )
    add(
        "HTML with only a script",
        "bad/script.html",
        "<html><head><title>T</title></head><body><script>x()</script></body></html>",
        "named",
    )
    add("corrupt PDF", "bad/corrupt.pdf", b"%PDF-1.4\n1 0 obj << >> endobj\ngarbage", "named")
    add("truncated PDF", "bad/truncated.pdf", pdf([GOOD, GOOD])[:300], "named")
    add("PDF without text", "bad/blank.pdf", pdf([""]), "named")
    add("PNG image", "bad/image.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "named")
    add("Word file", "bad/letter.docx", b"PK\x03\x04" + b"\x00" * 64, "named")
    add("a line of 200,000 characters", "bad/long.txt", "word " * 40_000, "read")
    add("file name with a line break", "bad/minutes\nof the assembly.txt", GOOD, "read")
    name = os.fsdecode(b"bad/caf\xff.txt")
    write(corpus / name, GOOD)
    kinds.append(("file name not UTF-8", "bad/caf\\xff.txt", "named"))
    for kind, link, target in [
        ("link to /etc/passwd", "bad/passwd.txt", Path("/etc/passwd")),
        ("link to a file outside", "bad/secret.txt", secret),
        ("link to a folder outside", "bad/elsewhere", outside / "folder"),
        ("link loop", "bad/loop.txt", corpus / "bad" / "loop.txt"),
        ("broken link", "bad/broken-link.txt", corpus / "bad" / "nothing.txt"),
    ]:
        (corpus / link).symlink_to(target)
        kinds.append((kind, link, "named"))
    (corpus / "bad" / "alias.txt").symlink_to(corpus / "bad" / "latin1.txt")
    kinds.append(("link to a file inside", "bad/alias.txt", "read"))
    os.mkfifo(corpus / "bad" / "pipe.txt")
    kinds.append(("FIFO", "bad/pipe.txt", "named"))
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(corpus / "bad" / "s.txt"))
    kinds.append(("socket", "bad/s.txt", "named"))
    try:
        os.mknod(corpus / "bad" / "null.txt", stat.S_IFCHR | 0o644, os.makedev(1, 3))
        kinds.append(("character device", "bad/null.txt", "named"))
    except PermissionError:
        print("(no right to make a device file: that kind is left out)")
    add("file without read permission", "bad/closed.txt", GOOD, "named")
    (corpus / "bad" / "closed.txt").chmod(0)
    add("sidecar without read permission", "bad/closed-sidecar.txt", GOOD, "named")
    write(corpus / "bad" / "closed-sidecar.txt.meta.json", '{"title": "x"}')
    (corpus / "bad" / "closed-sidecar.txt.meta.json").chmod(0)
    return kinds


def qa_index(corpus: Path, index: Path, bound: bool) -> subprocess.CompletedProcess:
    command = qa_command("index", "--json", "--corpus", str(corpus), "--index", str(index))
    return subprocess.run(
        bound_by_permissions(command) if bound else command, capture_output=True, text=True
    )


def main() -> None:
    with campaign_folder("qa-bad-") as work:  # short: a socket's path is limited
        corpus, index, outside = work / "c", work / "index", work / "outside"
        good = write_archive(corpus, 20)
        for n in range(3):
            write(corpus / "closed-folder" / f"kept-{n}.txt", f"Report {n}. {GOOD}")
            good.append(f"closed-folder/kept-{n}.txt")
        first = qa_index(corpus, index, bound=False)
        kinds = bad_kinds(corpus, outside)
        (corpus / "closed-folder").chmod(0)
        kinds.append(("folder without read permission", "closed-folder", "named"))
        second = qa_index(corpus, index, bound=True)

        aborted = [b for b in (first, second) if b.returncode or "Traceback" in b.stderr]
        report = json.loads(second.stdout) if second.returncode == 0 else {"skipped": []}
        named = {skip["path"]: skip["reason"] for skip in report["skipped"]}
        settings = Settings(corpus=corpus, index=index)
        stored = set(open_index(settings).catalog.document_hashes())
        lost = [document for document in good if document not in stored]
        outcomes = {"read": 0, "named": 0}
        wrong = []
        for kind, target, expected in kinds:
            got = "read" if target in stored else "named" if target in named else "silent"
            if got == expected:
                outcomes[got] += 1
            else:
                wrong.append(f"{kind} ({target!r}): expected {expected}, got {got}")
        catalog = open_index(settings).catalog
        leaked = [d for d in stored if "hunter2" in catalog.document(d).text]
        print(f"kinds of bad files: {len(kinds)} beside {len(good)} good documents")
        print(
            f"good documents lost: {len(lost)} (target 0); builds aborted: {len(aborted)} of 2 "
            f"(target 0); bad files read as documents: {outcomes['read']}, skipped and named: "
            f"{outcomes['named']}, silently dropped or wrongly handled: {len(wrong)} (target 0); "
            f"documents leaking files outside the corpus: {len(leaked)} (target 0); lines on "
            f"stderr: {len(second.stderr.splitlines())} (target 0)"
        )
        for line in lost[:5] + wrong + [b.stderr[-500:] for b in aborted] + leaked:
            print(f"  {line}")


if __name__ == "__main__":
    main()
