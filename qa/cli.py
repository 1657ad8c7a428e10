"""The `qa` command: index, search, ask, timeline, eval, serve, mcp.

Heavy imports (torch, FAISS, FastAPI) happen inside the commands, so `qa --help` is instant.
Domain errors become one clear line on stderr and exit code 1.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from pathlib import Path

import click
from pydantic import BaseModel, ValidationError

from qa.core.config import MAX_K, MAX_TIMELINE_EVENTS, MODES, Settings
from qa.core.errors import QAError


def _settings(ctx: click.Context, **overrides) -> Settings:
    given = {**ctx.obj, **{key: value for key, value in overrides.items() if value is not None}}
    values = {key: value for key, value in given.items() if value is not None}
    return Settings(**values)


def _print_json(value) -> None:
    """Print a report, a dict or one of the API's models (`qa.web.models`, so that `--json`
    gives tools the shapes the HTTP API gives them) as JSON."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _assistant(settings: Settings):
    from qa.service.assistant import Assistant

    return Assistant(settings)


class _Group(click.Group):
    """Translates domain errors and bad settings into one line and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except QAError as error:
            raise click.ClickException(str(error)) from None
        except ValidationError as error:
            problems = "; ".join(
                f"QA_{'_'.join(map(str, problem['loc'])).upper()}: {problem['msg']}"
                for problem in error.errors()
            )
            raise click.ClickException(f"Invalid setting: {problems}") from None


@click.group(cls=_Group)
@click.option("--corpus", type=click.Path(path_type=Path), help="Documents folder [QA_CORPUS].")
@click.option("--index", type=click.Path(path_type=Path), help="Index folder [QA_INDEX].")
@click.version_option(package_name="archive-qa")
@click.pass_context
def main(ctx: click.Context, corpus: Path | None, index: Path | None) -> None:
    """Cited question answering over a document archive, offline."""
    ctx.obj = {"corpus": corpus, "index": index}


def _paths(function):
    """`--corpus/--index` on each command too, so they can follow the command name."""
    function = click.option(
        "--index", "index_dir", type=click.Path(path_type=Path), help="Index folder [QA_INDEX]."
    )(function)
    return click.option(
        "--corpus", type=click.Path(path_type=Path), help="Documents folder [QA_CORPUS]."
    )(function)


@main.command()
@_paths
@click.option("--full", is_flag=True, help="Rebuild from scratch instead of updating.")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@click.option(
    "--cluster",
    default=None,
    help="Prepare and embed on a Ray cluster: 'local' starts one here, 'auto' or host:port "
    "joins one [QA_CLUSTER; unset: in this process].",
)
@click.pass_context
def index(ctx, corpus, index_dir, full: bool, as_json: bool, cluster: str | None) -> None:
    """Index the corpus: only new or changed documents are embedded."""
    progress = not as_json and sys.stderr.isatty()
    settings = _settings(ctx, corpus=corpus, index=index_dir, progress=progress, cluster=cluster)
    report = _assistant(settings).build(full=full)
    if as_json:
        _print_json(report)
        return
    click.echo(
        f"Indexed {report.documents} documents, {report.passages} passages "
        f"in {report.seconds:.1f}s "
        f"(added {report.added}, changed {report.changed}, removed {report.removed}, "
        f"unchanged {report.unchanged}; embedded {report.embedded_passages} passages)."
    )
    if report.cluster:
        click.echo(
            f"On the Ray cluster {report.cluster}: {report.workers} workers, "
            f"{report.staged_passages} passages staged by an earlier build, "
            f"{report.retried_tasks} tasks retried."
        )
    for skipped in report.skipped:
        click.echo(f"Skipped {skipped.path}: {skipped.reason}", err=True)


@main.command()
@_paths
@click.argument("query")
@click.option(
    "-k", type=click.IntRange(1, MAX_K), default=None, help=f"Number of hits (1-{MAX_K})."
)
@click.option("--mode", type=click.Choice(MODES), default=None)
@click.option("--source", default=None, help="Only documents from this source.")
@click.option("--language", default=None, help="Only documents in this language (ISO code).")
@click.option(
    "--date-from", default=None, help="Only documents dated on or after (YYYY[-MM[-DD]])."
)
@click.option("--date-to", default=None, help="Only documents dated on or before (YYYY[-MM[-DD]]).")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
@click.pass_context
def search(ctx, corpus, index_dir, query, k, mode, source, language, date_from, date_to, as_json):
    """Search the archive's passages."""
    from qa.search.query import search_filters
    from qa.web.models import SearchResponse

    settings = _settings(ctx, corpus=corpus, index=index_dir)
    filters = search_filters(source, language, date_from, date_to)
    hits = _assistant(settings).search(query, k=k, mode=mode, filters=filters)
    if as_json:
        _print_json(SearchResponse(query=query, hits=hits))
        return
    for hit in hits:
        where = f", page {hit.page}" if hit.page else ""
        click.echo(f"[{hit.rank}] {hit.score:.3f}  {hit.title} ({hit.document_id}{where})")
        click.echo(f"    {hit.text}\n")


@main.command()
@_paths
@click.argument("question")
@click.option(
    "--history",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON file of earlier turns: [{"question": ..., "answer": ...}, ...].',
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.pass_context
def ask(ctx, corpus, index_dir, question, history, as_json):
    """Answer a question from the archive, each sentence cited."""
    from qa.answer.answerer import UNCERTAIN_NOTE
    from qa.web.models import AnswerResponse

    settings = _settings(ctx, corpus=corpus, index=index_dir)
    turns = _read_history(history) if history else None
    answer = _assistant(settings).ask(question, history=turns)
    if as_json:
        _print_json(AnswerResponse.model_validate(answer))
        return
    if answer.verdict == "uncertain":
        click.echo(f"{UNCERTAIN_NOTE} (confidence {answer.confidence:.0%})")
    click.echo(answer.answer + "\n")
    for citation in answer.citations:
        label = "source" if answer.verdict == "answered" else "not an answer"
        click.echo(f"[{citation.n}] {citation.title} ({citation.document_id}) - {label}")
        click.echo(f"    {citation.text}\n")


@main.command()
@_paths
@click.argument("query", required=False)
@click.option("--source", default=None, help="Only documents from this source.")
@click.option("--language", default=None, help="Only documents in this language (ISO code).")
@click.option("--date-from", default=None, help="Only events on or after (YYYY[-MM[-DD]]).")
@click.option("--date-to", default=None, help="Only events on or before (YYYY[-MM[-DD]]).")
@click.option(
    "--limit", type=click.IntRange(1, MAX_TIMELINE_EVENTS), default=None, help="Most events listed."
)
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@click.pass_context
def timeline(ctx, corpus, index_dir, query, source, language, date_from, date_to, limit, as_json):
    """The archive's dated events, oldest first, each with its sources (QUERY narrows them)."""
    from qa.search.query import search_filters
    from qa.web.models import TimelineResponse

    settings = _settings(ctx, corpus=corpus, index=index_dir)
    filters = search_filters(source, language, date_from, date_to)
    result = _assistant(settings).timeline(query, filters, limit)
    if as_json:
        _print_json(TimelineResponse.model_validate(result))
        return
    for event in result.events:
        sources = ", ".join(f"{s.title} ({s.document_id})" for s in event.sources)
        click.echo(f"{event.label:>22}  {event.text}")
        click.echo(f"{'':>22}  [{len(event.sources)}] {sources}\n")
    if result.total > len(result.events):
        click.echo(f"... {result.total - len(result.events)} more (--limit).")


@main.command(name="eval-dates")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--bbc",
    type=click.Path(path_type=Path),
    default=Path("../shared/eval/bbc-dev.json"),
    show_default=True,
    help="The BBC News archive the labelled BBC sentences are read from, by reference.",
)
@click.option("--errors", is_flag=True, help="List the sentences read wrongly too.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def eval_dates(file, bbc, errors, as_json):
    """Precision and recall of date extraction on a labelled file of sentences.

    BBC sentences are kept as references into the BBC file; without it they are left out,
    and the result says how many.
    """
    from qa.evaluation.dates import evaluate_dates, left_out_line

    result = evaluate_dates(file, bbc)
    if not errors:
        for scores in result.values():
            scores.pop("errors")
    if as_json:
        _print_json(result)
        return
    click.echo(f"{'split':10} {'sentences':>9} {'mentions':>8} {'precision':>9} {'recall':>7}")
    for split, scores in result.items():
        click.echo(
            f"{split:10} {scores['sentences']:>9} {scores['expected']:>8} "
            f"{scores['precision']:>9.3f} {scores['recall']:>7.3f}"
        )
        for error in scores.get("errors", []):
            click.echo(f"    {error['text']}  expected {error['expected']}, found {error['found']}")
    if line := left_out_line(result):
        click.echo(line)


def _read_history(path: Path) -> list[dict]:
    try:
        turns = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise click.ClickException(f"{path} is not JSON: {error}") from None
    if not isinstance(turns, list) or not all(isinstance(turn, dict) for turn in turns):
        raise click.ClickException(f"{path} must hold a list of {{question, answer}} objects.")
    return turns


@main.command(name="eval")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--unanswerable",
    type=click.Path(path_type=Path),
    default=None,
    help="Questions (one a line) the archive cannot answer: they must be refused.",
)
@click.option(
    "--followups",
    type=click.Path(path_type=Path),
    default=None,
    help="Conversations (JSON) whose later turns are scored as `followup_acc1`.",
)
@click.option(
    "--archive",
    type=click.Path(path_type=Path),
    default=None,
    help="Ask FILE's questions of the archive built from this SQuAD file instead; a question "
    "takes the gold answers of this file's question with the same id, when there is one "
    "(e.g. Spanish questions over the English articles).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.pass_context
def evaluate(ctx, file, unanswerable, followups, archive, as_json):
    """Score retrieval and answers on a SQuAD v1.1 file."""
    from qa.embedders import embedder_for
    from qa.evaluation.squad import evaluate as run

    settings = _settings(ctx, progress=False)
    embedder = embedder_for(settings)
    result = run(settings, embedder, file, unanswerable, followups, archive)
    if as_json:
        _print_json(result)
        return
    for key, value in result.items():
        click.echo(f"{key:24} {value}")


def _ready_to_serve(assistant) -> None:
    """What `qa serve` and `qa mcp` do as they start: build the index if there is none (a
    missing corpus folder is refused), then ready the model in the background."""
    report = assistant.ensure_index()
    if report is not None:
        click.echo(f"Built the index: {report.documents} documents, {report.passages} passages.")
    if assistant.settings.warm_up:
        assistant.start_warm_up()


@main.command()
@_paths
@click.option("--host", default=None, help="Address to bind [QA_HOST, default 127.0.0.1].")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Port [QA_PORT, default 8000]."
)
@click.pass_context
def serve(ctx, corpus, index_dir, host, port):
    """Serve the web chat, the JSON API and the MCP tools at /mcp (builds the index first if
    there is none)."""
    import uvicorn

    from qa.mcp.http import serving_app
    from qa.web.server import server_config

    settings = _settings(ctx, corpus=corpus, index=index_dir, host=host, port=port)
    assistant = _assistant(settings)
    _ready_to_serve(assistant)
    click.echo(f"Serving on http://{settings.host}:{settings.port}/")
    uvicorn.Server(server_config(serving_app(settings, assistant), settings)).run()


@main.command(name="mcp")
@_paths
@click.option(
    "--base-url",
    default=None,
    help="Address of a `qa serve` that passage links start with, e.g. http://127.0.0.1:8000 "
    "[QA_BASE_URL; unset: links are paths].",
)
@click.pass_context
def mcp_server(ctx, corpus, index_dir, base_url):
    """Serve the archive's tools to an AI assistant over stdio (Model Context Protocol):
    search, ask, read_document, timeline. Builds the index first if there is none."""
    from qa.mcp.tools import create_server

    # stdout carries the protocol: the command's messages go to stderr, and so does what
    # anything prints while the server runs (the SDK points file descriptor 1 there).
    progress = sys.stderr.isatty()
    settings = _settings(ctx, corpus=corpus, index=index_dir, base_url=base_url, progress=progress)
    assistant = _assistant(settings)
    with contextlib.redirect_stdout(sys.stderr):
        _ready_to_serve(assistant)
        click.echo(f"Serving the tools of {settings.index} over stdio.")
    create_server(assistant, settings).run("stdio")
