"""How walked or changed files become pool tasks: the staleness rule, the cut into tasks, the count of work.

`unchanged` says which walked files the records still describe (not read again), `Batches` cuts the rest into
tasks of even size, and `Tally` counts what is found and done for progress reports. Pure bookkeeping: nothing
here reads files, touches the records or runs jobs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kimi_lsp.index.discovery import FoundFile
from kimi_lsp.index.jobs import Job
from kimi_lsp.index.store import FileRecord

BATCH_BYTES = 256 * 1024  # source bytes per pool task
MAX_BATCH = 256  # files per pool task


def unchanged(record: FileRecord | None, found: FoundFile) -> bool:
    """Does the record still describe the walked file (same size and mtime)? Then it is not read again."""
    return record is not None and record.size == found.size and record.mtime_ns == found.mtime_ns


class Batches:
    """Cuts jobs into pool tasks of about BATCH_BYTES of source, at most MAX_BATCH files: even work for the
    workers whether the files are small or big."""

    def __init__(self) -> None:
        self.rest: list[Job] = []
        self._bytes = 0

    def add(self, job: Job, size: int) -> list[Job] | None:
        """Queue a job; returns a full batch when this one completes it."""
        self.rest.append(job)
        self._bytes += size
        if self._bytes < BATCH_BYTES and len(self.rest) < MAX_BATCH:
            return None
        full, self.rest, self._bytes = self.rest, [], 0
        return full

    @staticmethod
    def cut(sized: Iterable[tuple[Job, int]]) -> list[list[Job]]:
        """Every one of the (job, source bytes) pairs, in batches."""
        batches = Batches()
        full = [batch for job, size in sized if (batch := batches.add(job, size)) is not None]
        return [*full, batches.rest] if batches.rest else full


@dataclass(slots=True)
class Tally:
    """Files walked so far, how many of them are done (indexed, or unchanged since the cache), and whether the
    walk still goes on."""

    total: int = 0
    done: int = 0
    walking: bool = True
