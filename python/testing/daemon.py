"""The embed daemon with a test encoder: ``python -m testing.daemon --poison-marker X``.

It is the daemon's own main(), unchanged, with one injected difference: its encoders
refuse every batch holding a text that contains the marker, as a model that chokes on
an input would. Tests and the soak use it to make jobs fail on purpose (retries,
backoff, dead jobs, leases kept alive while the rest of a batch is retried alone).
Any other argument goes to the daemon (``--pidfile``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from embed_daemon.__main__ import main
from embed_daemon.model import Encoder


class PoisonInput(RuntimeError):
    """The test encoder refused an input."""


class PoisonedEncoder(Encoder):
    """An Encoder that raises PoisonInput for any batch with a text containing marker."""

    def __init__(self, *args: Any, marker: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marker = marker

    def encode(self, texts: Sequence[str], query: bool = False) -> np.ndarray:
        if any(self.marker in t for t in texts):
            raise PoisonInput("the test encoder refused an input (poison marker)")
        return super().encode(texts, query)


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="testing.daemon", description=__doc__)
    parser.add_argument("--poison-marker", required=True)
    args, rest = parser.parse_known_args(argv)
    if not args.poison_marker:
        parser.error("--poison-marker must not be empty")
    return main(rest, encoder_class=partial(PoisonedEncoder, marker=args.poison_marker))


if __name__ == "__main__":
    sys.exit(run())
