"""``edgekit report``: the run folder as one page a person can read (and attach to a CI job)."""

from __future__ import annotations

from pathlib import Path

import click

from . import main


@main.command("report")
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    metavar="FILE",
    help="Where to write the page [default: RUN_DIR/report.html].",
)
@click.option("--force", is_flag=True, help="Replace --out even if it is not an edgekit report.")
def report(run_dir: Path, out: Path | None, force: bool) -> None:
    """Write RUN_DIR/report.html: data, training curves, parity, confusion matrices, footprint, latency.

    One self-contained HTML file (inline SVG charts and styles, no scripts, nothing fetched), so it
    opens offline and can be attached to a CI job. Works on any run folder: sections whose inputs
    do not exist yet (e.g. no parity.json before 'edgekit parity') say so instead of failing.

    \b
    Example:
      edgekit report runs/demo
      edgekit report runs/demo --out demo-report.html
    """
    from ..report import write_report

    click.echo(f"wrote {write_report(run_dir, out, force=force)}")
