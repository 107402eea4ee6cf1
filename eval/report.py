"""Write an evaluation's report (report.json, report.md, two PNG plots) and compare two reports.

report.json holds every figure, the settings the run was given (chunk size, overlap, k,
index manifest, ...), python and package versions, the git commit, a timestamp, and each
question's record with its per-question metric values, so `compare_reports` can pair two
runs question by question. report.md is the same for people: tables that state k and the
chunk settings beside the figures, the lenient word-overlap match only ever beside strict
exact match, and a "Failing questions" section showing what was retrieved.

The chunk settings are read from the settings keys `chunk_size` and `chunk_overlap`; a
missing one is shown as "not stated" rather than left out.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import platform
import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from newscite.eval.metrics import paired_bootstrap
from newscite.eval.runner import EvalResult, MetricSummary, QuestionRecord, headline_metrics

logger = logging.getLogger(__name__)

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
BY_TYPE_PNG = "metrics_by_type.png"
LATENCY_PNG = "latency.png"
MAX_FAILING = 50
VERSIONED_PACKAGES = (
    "numpy",
    "matplotlib",
    "tqdm",
    "torch",
    "transformers",
    "sentence-transformers",
    "faiss-cpu",
    "bm25s",
)

_LABELS = {
    "hits": "Hits",
    "mrr": "MRR",
    "evidence_recall": "evidence recall",
    "all_evidence": "all-evidence",
    "article_recall": "article recall",
    "exact_match": "exact match of the lead (strict)",
    "lead_precision": "lead precision",
    "lead_coverage": "lead coverage",
    "gold_contained": "gold contained",
    "lenient_match": "lenient (any word in common)",
    "abstention_precision": "abstention precision",
    "abstention_recall": "abstention recall",
    "false_abstention_rate": "false abstention rate",
    "citation_markers_resolve": "markers resolve",
    "cited_sentence_share": "cited sentences",
    "citation_support": "citation support",
}
_RETRIEVAL_BASES = ("hits", "mrr", "evidence_recall", "all_evidence", "article_recall")
_ANSWER_METRICS = ["exact_match", "gold_contained", "lenient_match", "lead_precision",
                   "lead_coverage"]
_ABSTENTION_METRICS = ["abstention_precision", "abstention_recall", "false_abstention_rate"]
_CITATION_METRICS = ["citation_markers_resolve", "cited_sentence_share", "citation_support"]


def write_report(
    result: EvalResult, out_dir: str | Path, *, title: str = "Evaluation report"
) -> dict[str, Path]:
    """Write report.json, report.md, metrics_by_type.png and latency.png into out_dir
    (created if needed); returns their paths by file name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in (REPORT_JSON, REPORT_MD, BY_TYPE_PNG, LATENCY_PNG)}
    data = report_data(result, title)
    paths[REPORT_JSON].write_text(
        json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    paths[REPORT_MD].write_text(_markdown(data), encoding="utf-8")
    _plot_by_type(data, paths[BY_TYPE_PNG])
    _plot_latency(result, paths[LATENCY_PNG])
    logger.info("wrote report to %s", out)
    return paths


def report_data(result: EvalResult, title: str = "Evaluation report") -> dict[str, Any]:
    """The content of report.json, as plain JSON-ready data."""
    type_counts: dict[str, int] = {}
    for record in result.records:
        type_counts[record.question_type] = type_counts.get(record.question_type, 0) + 1
    return {
        "title": title,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git": _git_state(),
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "packages": _package_versions(),
        },
        "settings": result.settings,
        "k": result.k,
        "answered": result.answered,
        "n_questions": len(result.records),
        "question_types": dict(sorted(type_counts.items())),
        "wall_seconds": result.wall_seconds,
        "questions_per_second": result.questions_per_second,
        "latency": result.latency,
        "headline": [name for name in headline_metrics(result.k) if name in result.overall],
        "overall": _summaries(result.overall),
        "by_type": {name: _summaries(group) for name, group in result.by_type.items()},
        "questions": [_record_data(record) for record in result.records],
    }


def compare_reports(a_path: str | Path, b_path: str | Path) -> str:
    """Markdown comparing run B with run A on each headline metric.

    Questions are paired by id; for each metric only questions scored in both runs count.
    Delta is mean(B) - mean(A) over those pairs with a paired-bootstrap 95% interval and an
    approximate two-sided p (eval.metrics.paired_bootstrap). Settings that differ are listed
    first, since they usually explain the deltas.
    """
    a, b = (json.loads(Path(p).read_text(encoding="utf-8")) for p in (a_path, b_path))
    a_questions = {q["id"]: q for q in a["questions"]}
    b_questions = {q["id"]: q for q in b["questions"]}
    shared = [qid for qid in a_questions if qid in b_questions]
    only_a, only_b = len(a_questions) - len(shared), len(b_questions) - len(shared)
    lines = [
        "# Comparison: B vs A",
        "",
        f"- A: `{a_path}` (commit {_commit(a)}, {a['created_at']})",
        f"- B: `{b_path}` (commit {_commit(b)}, {b['created_at']})",
        f"- paired questions: {len(shared)} (only in A: {only_a}, only in B: {only_b})",
        "",
    ]
    changed = _changed_settings(a, b)
    if changed:
        lines += ["## Settings that differ", "", "| setting | A | B |", "|---|---|---|"]
        lines += [f"| {key} | {va} | {vb} |" for key, va, vb in changed]
        lines.append("")
    lines += [
        "## Headline metrics",
        "",
        "A and B are means over the paired questions; Δ = B − A.",
        "",
        "| metric | A | B | Δ | 95% CI of Δ | p≈ | n |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(a["headline"] + b["headline"]):
        pairs = [
            (a_questions[qid]["scores"][name], b_questions[qid]["scores"][name])
            for qid in shared
            if name in a_questions[qid]["scores"] and name in b_questions[qid]["scores"]
        ]
        if not pairs:
            continue
        a_values, b_values = zip(*pairs)
        test = paired_bootstrap(a_values, b_values)
        lines.append(
            f"| {_label(name)} | {np.mean(a_values):.3f} | {np.mean(b_values):.3f} "
            f"| {test.delta:+.3f} | [{test.low:+.3f}, {test.high:+.3f}] "
            f"| {test.p_value:.3f} | {len(pairs)} |"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# report.json pieces


def _summaries(summaries: Mapping[str, MetricSummary]) -> dict[str, dict[str, float | int]]:
    return {name: dataclasses.asdict(summary) for name, summary in summaries.items()}


def _record_data(record: QuestionRecord) -> dict[str, Any]:
    return {**dataclasses.asdict(record), "failures": record.failures}


def _git_state() -> dict[str, Any]:
    """Commit of the repository holding this file, and whether tracked files have changes."""
    repo = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    dirty = None if status is None else bool(status)
    return {"commit": git("rev-parse", "HEAD"), "dirty": dirty}


def _package_versions() -> dict[str, str]:
    versions = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


# ---------------------------------------------------------------------------------------
# report.md


def _markdown(data: dict[str, Any]) -> str:
    setup = _setup_line(data["settings"], data["k"])
    lines = [f"# {data['title']}", ""]
    lines += [
        f"- created: {data['created_at']} · commit: {_commit(data)}",
        f"- questions: {data['n_questions']} ("
        + ", ".join(f"{t}: {n}" for t, n in data["question_types"].items())
        + ")",
        f"- {setup}",
        "",
        "## Settings",
        "",
        "| setting | value |",
        "|---|---|",
        f"| k | {data['k']} |",
    ]
    lines += [f"| {key} | {_short(value)} |" for key, value in data["settings"].items()]
    lines += ["", "## Headline", "", f"{setup}.", "", "| metric | value | 95% CI | n |"]
    lines.append("|---|---|---|---|")
    overall = data["overall"]
    for name in data["headline"]:
        lines.append(_headline_row(name, overall[name]))
        if name == "gold_contained" and "lenient_match" in overall:
            lines.append(_headline_row("lenient_match", overall["lenient_match"]))
    lines.append("")

    retrieval = [name for name in overall if _is_retrieval(name)]
    lines += _type_table(data, "Retrieval by question type", retrieval, setup)
    if data["answered"]:
        lines += _type_table(data, "Answers by question type", _ANSWER_METRICS, setup)
        lines += _type_table(data, "Abstention by question type", _ABSTENTION_METRICS, setup)
        lines += _type_table(data, "Citations by question type", _CITATION_METRICS, setup)
    lines += _latency_table(data)
    lines += ["## Plots", "", f"![metrics by question type]({BY_TYPE_PNG})", ""]
    lines += [f"![latency]({LATENCY_PNG})", ""]
    lines += _failing_section(data["questions"])
    return "\n".join(lines) + "\n"


def _setup_line(settings: Mapping[str, Any], k: int) -> str:
    """The settings every figure depends on, stated beside it."""
    size = settings.get("chunk_size", "not stated")
    overlap = settings.get("chunk_overlap", "not stated")
    return f"top-k = {k} · chunk size = {size} · chunk overlap = {overlap}"


def _headline_row(name: str, summary: Mapping[str, float]) -> str:
    return (
        f"| {_label(name)} | {summary['value']:.3f} "
        f"| [{summary['ci_low']:.3f}, {summary['ci_high']:.3f}] | {summary['n']} |"
    )


def _type_table(data: dict[str, Any], heading: str, names: Sequence[str], setup: str) -> list[str]:
    """Rows per question type plus "all"; each cell is the mean with its n in brackets."""
    names = [n for n in names if n in data["overall"]]
    if not names:
        return []
    lines = [f"## {heading}", "", f"{setup}. Cells: mean (n questions scored).", ""]
    lines.append("| question type | " + " | ".join(_label(n) for n in names) + " |")
    lines.append("|---" * (len(names) + 1) + "|")
    groups = [*data["by_type"].items(), ("**all**", data["overall"])]
    for group, summaries in groups:
        if not any(n in summaries for n in names):
            continue
        cells = [
            f"{summaries[n]['value']:.3f} ({summaries[n]['n']})" if n in summaries else "–"
            for n in names
        ]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    return lines + [""]


def _latency_table(data: dict[str, Any]) -> list[str]:
    lines = [
        "## Latency",
        "",
        f"{data['n_questions']} questions in {data['wall_seconds']:.2f} s "
        f"({data['questions_per_second']:.2f} questions/s).",
        "",
        "| stage | n | mean ms | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for stage, s in data["latency"].items():
        lines.append(
            f"| {stage} | {s['n']} | {1000 * s['mean']:.1f} | {1000 * s['p50']:.1f} "
            f"| {1000 * s['p95']:.1f} | {1000 * s['max']:.1f} |"
        )
    return lines + [""]


def _failing_section(questions: Sequence[dict[str, Any]]) -> list[str]:
    """Up to MAX_FAILING failing questions, those failing for more reasons first."""
    failing = sorted((q for q in questions if q["failures"]), key=lambda q: -len(q["failures"]))
    lines = ["## Failing questions", ""]
    if not failing:
        return lines + ["None.", ""]
    shown = min(len(failing), MAX_FAILING)
    lines += [f"{len(failing)} of {len(questions)} questions fail; showing {shown}.", ""]
    for q in failing[:MAX_FAILING]:
        lines += [
            f"### {q['id']} · {q['question_type']}",
            "",
            f"- why: {'; '.join(q['failures'])}",
            f"- question: {_one_line(q['question'])}",
            f"- gold: {' | '.join(q['gold_answers'])}",
        ]
        if q["answer_text"] is not None:
            lines.append(f"- answer: {_one_line(q['answer_text'], 300)}")
        ranks = ", ".join(map(str, q["relevant_ranks"])) or "none"
        lines.append(f"- relevant ranks: {ranks}")
        if q["facts_missed"]:
            total = len(q["facts_missed"]) + len(q["facts_found"])
            lines.append(f"- facts missed ({len(q['facts_missed'])} of {total}):")
            lines += [f"  - “{_one_line(fact, 200)}”" for fact in q["facts_missed"]]
        lines.append("- retrieved:" if q["retrieved"] else "- retrieved: nothing")
        for p in q["retrieved"]:
            mark = "✓" if p["relevant"] else "·"
            lines.append(
                f"  {p['rank']}. {mark} *{_one_line(p['title'], 120)}* — "
                f"{p['source'] or 'source unknown'}, {p['date']}: “{_one_line(p['excerpt'])}”"
            )
        lines.append("")
    return lines


def _is_retrieval(name: str) -> bool:
    return name.partition("@")[0] in _RETRIEVAL_BASES


def _label(name: str) -> str:
    base, _, cutoff = name.partition("@")
    return f"{_LABELS.get(base, base)}@{cutoff}" if cutoff else _LABELS.get(name, name)


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return _one_line(text, limit).replace("|", "\\|")


def _one_line(text: str, limit: int | None = None) -> str:
    flat = " ".join(text.split())
    return flat if limit is None or len(flat) <= limit else flat[: limit - 1] + "…"


def _commit(data: Mapping[str, Any]) -> str:
    commit = data["git"]["commit"]
    if commit is None:
        return "unknown"
    return commit[:12] + (" (uncommitted changes)" if data["git"]["dirty"] else "")


def _changed_settings(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    settings_a = {"k": a["k"], **a["settings"]}
    settings_b = {"k": b["k"], **b["settings"]}
    return [
        (key, _short(settings_a.get(key, "–")), _short(settings_b.get(key, "–")))
        for key in dict.fromkeys([*settings_a, *settings_b])
        if settings_a.get(key) != settings_b.get(key)
    ]


# ---------------------------------------------------------------------------------------
# Plots (Agg canvas, no pyplot: nothing global changes in the caller's process)


def _plot_by_type(data: dict[str, Any], path: Path) -> None:
    """Grouped bars per question type: retrieval headline metrics, and answer metrics."""
    panels = [("Retrieval", [name for name in data["headline"] if _is_retrieval(name)])]
    if data["answered"]:
        panels.append(("Answers (answerable questions)", _ANSWER_METRICS))
    figure = Figure(figsize=(10, 4 * len(panels)), layout="constrained")
    FigureCanvasAgg(figure)
    for axes, (heading, names) in zip(figure.subplots(len(panels), 1, squeeze=False)[:, 0], panels):
        types = [t for t, s in data["by_type"].items() if any(n in s for n in names)]
        width = 0.8 / max(len(names), 1)
        for i, name in enumerate(names):
            values = [data["by_type"][t].get(name, {}).get("value", 0.0) for t in types]
            axes.bar(np.arange(len(types)) + i * width, values, width, label=_label(name))
        axes.set_xticks(np.arange(len(types)) + width * (len(names) - 1) / 2, types)
        axes.set_ylim(0, 1)
        axes.set_title(f"{heading} — {_setup_line(data['settings'], data['k'])}", fontsize=10)
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.savefig(path, dpi=100)


def _plot_latency(result: EvalResult, path: Path) -> None:
    """Histogram of per-question wall time (ms) for each stage."""
    figure = Figure(figsize=(8, 4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    millis = {s: [1000 * r.seconds[s] for r in result.records] for s in result.latency}
    bins = np.histogram_bin_edges([m for values in millis.values() for m in values], bins=30)
    for stage, values in millis.items():
        axes.hist(values, bins=bins, alpha=0.6, label=stage)
    axes.set_xlabel("milliseconds per question")
    axes.set_ylabel("questions")
    axes.set_title(f"Latency per stage ({len(result.records)} questions)", fontsize=10)
    axes.legend()
    figure.savefig(path, dpi=100)
