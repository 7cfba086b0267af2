#!/usr/bin/env python3
"""Check a committed Fig. 9 forecast against the runs it forecast (Wortsman et al. 2023, §3.4).

`qklab sweep FILE --forecast-step S --next-set …` prints, per line and learning rate, the
quadratic and linear forecasts of layer 0's max attention logit and of the max over layers at
step S for a size not yet trained. This script reads those printed tables from a page (any text
holding them, e.g. docs/results/wortsman/fig9-forecast.md), then the trained runs' metrics.jsonl,
and prints a Markdown table: forecast, achieved, and achieved / forecast, per run and step, plus
each run's outcome (final validation loss against the corpus's bigram loss, as `qklab sweep`).

A run is matched to a forecast table by its non-embedding parameter count (its step-0 line;
within 0.1%, since a forecast may have counted a line's model slightly differently) and to a row
by its learning rate and line (each `key=value` of the line must be the run's resolved value).

    python3 scripts/forecast_check.py docs/results/wortsman/fig9-forecast.md \\
        runs/wortsman-fig9-d160l5/points/* [--threshold 1e4]

Exit 0, or 2 with one line on stderr for a missing or unreadable file.
"""

import argparse
import json
import os
import re
import sys
import tomllib

HEADER = re.compile(r"Max attention logit at step (\d+), forecast for (\d+) non-embedding parameters")


def forecast_tables(text):
    """[(step, parameters, {(line, lr): (l0q, l0l, allq, alll)})] from the printed forecasts."""
    tables = []
    for match in HEADER.finditer(text):
        rows = {}
        body = text[match.end():].split("\n")
        started = False
        for raw in body[1:]:
            if raw.startswith("line "):
                started = True
                continue
            if not started:
                continue
            if not raw.strip():
                break
            cells = [c for c in raw.split() if c != "!"]
            if len(cells) < 7:
                continue
            values = [None if c == "—" else float(c) for c in cells[3:7]]
            rows[(cells[0], float(cells[1]))] = values
        tables.append((int(match.group(1)), int(match.group(2)), rows))
    return tables


def read_run(folder):
    with open(os.path.join(folder, "config.toml"), "rb") as f:
        config = tomllib.load(f)
    facts, lines, val = {}, {}, None
    with open(os.path.join(folder, "metrics.jsonl"), encoding="utf-8") as f:
        for raw in f:
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if line.get("step") == 0:
                facts.update(line)
            if "attn_logit_max" in line:
                lines[line["step"]] = line["attn_logit_max"]
            if line.get("val_loss") is not None:
                val = line["val_loss"]
    return config, facts, lines, val


def matches(line, config):
    if line == "all":
        return True
    for pair in line.split(","):
        key, _, value = pair.partition("=")
        found = [section[key] for section in config.values() if isinstance(section, dict) and key in section]
        if not found or str(found[0]).lower() != value.lower():
            return False
    return True


def show(value):
    return "—" if value is None else f"{value:.4g}"


def ratio(achieved, forecast):
    return "—" if achieved is None or not forecast else f"{achieved / forecast:.2g}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("page", help="text holding the forecast tables qklab printed")
    parser.add_argument("runs", nargs="+", help="run folders of the size forecast")
    parser.add_argument("--threshold", type=float, default=1e4, help="the forecast's flag (default 1e4)")
    args = parser.parse_args()
    try:
        with open(args.page, encoding="utf-8") as f:
            tables = forecast_tables(f.read())
        runs = [(folder, *read_run(folder)) for folder in args.runs]
    except (OSError, tomllib.TOMLDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("| run | step | layer 0: forecast q / lin | achieved | achieved / q, / lin | all layers: forecast q / lin"
          " | achieved | achieved / q, / lin | final val loss (bigram) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for folder, config, facts, logged, val in runs:
        parameters, lr = facts.get("non_embedding_parameters"), config["optim"]["lr"]
        bigram = facts.get("bigram_loss")
        outcome = f"{show(val)} ({show(bigram)})" + (" above" if val and bigram and val > bigram else "")
        for step, target, rows in sorted(tables, key=lambda t: t[0]):
            if not parameters or abs(target - parameters) > 1e-3 * parameters:
                continue
            row = next((v for (line, rate), v in rows.items() if rate == lr and matches(line, config)), None)
            if row is None or step not in logged:
                continue
            layers = [x for x in logged[step] if x is not None]
            first, largest = logged[step][0], max(layers) if layers else None
            flag = lambda v: show(v) + (" !" if v is not None and v > args.threshold else "")
            print(f"| {os.path.basename(os.path.normpath(folder))} | {step} | {flag(row[0])} / {flag(row[1])} "
                  f"| {show(first)} | {ratio(first, row[0])}, {ratio(first, row[1])} | {flag(row[2])} / {flag(row[3])} "
                  f"| {show(largest)} | {ratio(largest, row[2])}, {ratio(largest, row[3])} | {outcome} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
