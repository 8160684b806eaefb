"""``edgekit data``: get and check data sets, so training never starts with a half-downloaded file."""

from __future__ import annotations

from pathlib import Path

import click

from . import main
from .options import SECONDS_MAX, FiniteFloat


@main.group()
def data() -> None:
    """Download and check data sets (the WISDM v1.1 raw stream).

    \b
    Example:
      edgekit data fetch
    """


@data.command("fetch")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the download cache [default: $EDGEKIT_CACHE or the user cache folder].",
)
@click.option("--url", default=None, help="Archive URL [default: $EDGEKIT_WISDM_URL or the WISDM lab's].")
@click.option("--timeout", type=FiniteFloat(min=1, max=SECONDS_MAX), default=30.0, show_default=True, help="Seconds.")
def fetch(cache_dir: Path | None, url: str | None, timeout: float) -> None:
    """Download WISDM_ar_latest.tar.gz once, keep its checked raw stream, print its path and counts.

    \b
    Example:
      edgekit data fetch
      edgekit data fetch --cache-dir ~/data/edgekit
    """
    from ..data.fetch import fetch_info, fetch_wisdm

    path = fetch_wisdm(cache_dir, url=url, timeout=timeout)
    info = fetch_info(path)
    click.echo(str(path))
    click.echo(f"records: {info['records']} from {info['users']} users; {_skipped(info)}")
    for label, count in sorted(info["counts"].items()):
        click.echo(f"  {label:<12}{count:>9}")
    click.echo(f"sha256: {info['sha256']}")


def _skipped(info: dict) -> str:
    skipped = info.get("skipped", {})
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(skipped.get("reasons", {}).items()))
    return f"{skipped.get('count', 0)} skipped" + (f" ({reasons})" if reasons else "")
