#!/usr/bin/env python3
"""Checks the provisioned Grafana dashboards without a Grafana: each file parses as JSON, and every
metric a panel queries is one the README's metric tables document (so a renamed metric cannot leave
a panel silently empty). compose/local test runs it.

    compose/docker/grafana/check_dashboards.py README.md
"""

import json
import re
import sys
from pathlib import Path

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"
# Series Prometheus makes itself rather than scraping them from a service.
BUILT_IN = {"up"}
# A histogram is documented once by its name; queries read its suffixed series.
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# PromQL words that look like metric names once functions (anything followed by "(") are gone.
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan"}


def documented_metrics(readme: Path) -> set[str]:
    """The first column of every table in the README's "## Metrics" section."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \|", section, re.MULTILINE))


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: what is left once strings, label matchers, range
    durations, grouping lists, Grafana variables and function calls are taken out."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\$\w+", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    # Numbers are skipped whole, so "1e3" is not read as a metric "e3".
    for word in re.finditer(r"[0-9][0-9a-zA-Z_.]*|[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        is_call = expr[word.end():].lstrip().startswith("(")
        if not word[0][0].isdigit() and not is_call and word[0].lower() not in KEYWORDS:
            names.add(word[0])
    return names


def panels(items):
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def problems(dashboard: Path, documented: set[str]) -> list[str]:
    try:
        data = json.loads(dashboard.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        return [f"{dashboard.name}: not JSON: {err}"]
    found = []
    for panel in panels(data.get("panels", [])):
        for target in panel.get("targets", []):
            for name in sorted(metric_names(target.get("expr", ""))):
                base = next((name[: -len(s)] for s in HISTOGRAM_SUFFIXES if name.endswith(s)), name)
                if name not in documented and base not in documented and name not in BUILT_IN:
                    found.append(f"{dashboard.name}: panel \"{panel.get('title')}\" queries "
                                 f"{name}, which the README's metric tables do not list")
    return found


def main() -> int:
    readme = Path(sys.argv[1]) if len(sys.argv) > 1 else DASHBOARDS.parents[3] / "README.md"
    documented = documented_metrics(readme)
    files = sorted(DASHBOARDS.glob("*.json"))
    found = [p for f in files for p in problems(f, documented)]
    for problem in found:
        print(problem, file=sys.stderr)
    if not found:
        print(f"{len(files)} dashboards parse; every metric they query is documented")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
