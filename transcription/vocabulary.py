"""Placeholder."""
from dataclasses import dataclass
from typing import Any

@dataclass(frozen=True)
class Vocabulary:
    sentences: tuple[str, ...] = ()
    def apply_to(self, decoder: Any) -> None:
        pass
