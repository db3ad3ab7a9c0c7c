"""Figures measured by the bad-input and fault tests, written to .run/reliability.json so that
docs/reliability.md can quote the last run (`make chaos` prints them too)."""

import json
import time
from contextlib import contextmanager

from stats.tests.support import ROOT

PATH = ROOT / ".run" / "reliability.json"


def figures_record(section: str, **values) -> None:
    PATH.parent.mkdir(exist_ok=True)
    data = json.loads(PATH.read_text()) if PATH.exists() else {}
    data[section] = {**values, "recorded_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    PATH.write_text(json.dumps(data, indent=2, sort_keys=True))


class AnswerTimes:
    """How many cases were tried, and the slowest answer among them."""

    def __init__(self) -> None:
        self.cases = 0
        self.max_seconds = 0.0
        self.by_answer: dict[str, int] = {}

    @contextmanager
    def case(self):
        start = time.perf_counter()
        yield
        self.cases += 1
        self.max_seconds = max(self.max_seconds, time.perf_counter() - start)

    def answered(self, answer: str) -> None:
        self.by_answer[answer] = self.by_answer.get(answer, 0) + 1

    def as_dict(self) -> dict:
        return {"cases": self.cases, "max_answer_ms": round(self.max_seconds * 1000, 1), "answers": self.by_answer}
